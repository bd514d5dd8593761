"""Hostile station names on the upload preview's map (issue 15 item 3, wave 3): every payload
of :data:`tests.security.payloads.PAYLOADS` uploaded as a station name reaches the page's map
configuration as data only — no ``</script>`` or ``<`` can close the JSON element — and the
table shows it escaped; the map's script puts names into the page with ``textContent`` only.
The browser half (the popup shows the name as text) is tests/browser/test_upload_pages.py."""

from __future__ import annotations

import io
import json
import re

import pytest
from test_upload import KIND, OPEN, PASSWORD, RS, USERS, write_csv

import support
from security.payloads import PAYLOADS
from support import ROOT

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upload-map-security")
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    with support.workspace(request, tmp, USERS, PASSWORD, **settings) as env:
        yield env


def test_hostile_names_are_data_in_the_map_configuration(env):
    rows = [
        [f"H-{i}", name, KIND, *RS, f"109.{2300 + i}", "25.0500", "", OPEN]
        for i, name in enumerate(PAYLOADS)
    ]
    client = support.login(env["app"], "rs_editor", PASSWORD)
    data = write_csv(env["tmp"] / "hostile.csv", rows).read_bytes()
    rv = client.post(
        "/manage/upload",
        data={"registry": (io.BytesIO(data), "h.csv"), "reason": "核对", "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )
    html = client.get(rv.headers["Location"]).get_data(as_text=True)
    found = re.search(
        r'<script type="application/json" id="mg-upload-config">(.*?)</script>', html, re.S
    )
    assert found
    raw = found.group(1)
    assert "<" not in raw and ">" not in raw  # nothing can end the element or start a tag
    names = {p["id"]: p["name"] for p in json.loads(raw)["points"]}
    # the validator folds line separators and runs of spaces into one space
    new = {f"H-{i}": " ".join(name.split()) for i, name in enumerate(PAYLOADS)}
    assert {k: v for k, v in names.items() if k in new} == {k: new[k] for k in names}
    assert len(names) >= len(PAYLOADS) - 2  # a payload the validator refuses is not a marker
    assert "<img src=x onerror=alert(1)>" not in html
    assert "</script><script>alert(1)</script>" not in html


def test_the_map_script_never_writes_markup():
    script = (ROOT / "webapp/static/js/manage/upload.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script
