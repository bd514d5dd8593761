"""Hostile text on printed door signs and county posters (issue 15 item 9): script, formulas,
control and bidi characters and very long values in every text field are printed as plain
text, stay on the page, never push the QR code off its square, and never reach the
``Content-Disposition`` header of the download as anything but a sanitised file name."""

from __future__ import annotations

import random
from urllib.parse import unquote

import pytest
from test_paper import (
    BASE,
    COUNTY,
    _in_county,
    chars_outside,
    decoded_qr,
    overlapping_chars,
    page_sizes,
    station,
    text_of,
)

from security.payloads import CONTROL_TEXTS, FORMULAS, LAYOUT_TEXTS, PAYLOADS

A5_PT = (148 * 72 / 25.4, 210 * 72 / 25.4)
A3_PT = (297 * 72 / 25.4, 420 * 72 / 25.4)
TEXTS = PAYLOADS + FORMULAS + CONTROL_TEXTS + LAYOUT_TEXTS


def _hostile(i: int, text: str, **kw):
    return station(
        id=f"H-{i:02d}",
        name=text,
        union=text,
        address=text,
        hours=text,  # unreadable hours: printed as registered
        phone=text,
        services=("drinking_water", text),  # an unknown code is printed as given
        **kw,
    )


@pytest.mark.parametrize("i", range(len(TEXTS)))
def test_sign_prints_hostile_text_plainly_on_one_page(i):
    from geo.paper import sign_pdf, station_url

    text = TEXTS[i]
    s = _hostile(i, text, demo=True)  # the 示意 label shares the top line with the union
    data = sign_pdf(s, BASE)
    assert page_sizes(data) == [pytest.approx(A5_PT, abs=0.01)]
    assert chars_outside(data) == []
    assert overlapping_chars(data) == []
    assert decoded_qr(data) == [station_url(BASE, s.id)]
    shown = text_of(data)
    assert "\u202e" not in shown and "\x00" not in shown and "\x1b" not in shown
    bare = "".join(text.split())
    if text in PAYLOADS or text in FORMULAS:
        assert bare in shown  # as typed, never interpreted
    if text == LAYOUT_TEXTS[-1]:  # 3000 characters: cut, with the length noted
        assert "超长站点名称" * 10 in shown and "（3000）" in shown


def test_poster_prints_hostile_text_plainly_and_stays_a3():
    from geo.paper import poster_pdf

    rng = random.Random(42)
    points = _in_county(len(TEXTS), rng)
    stations = [
        _hostile(i, text, lon=x, lat=y)
        for i, (text, (x, y)) in enumerate(zip(TEXTS, points, strict=True))
    ]
    data = poster_pdf(COUNTY, stations, base_url=BASE)
    sizes = page_sizes(data)
    assert all(size == pytest.approx(A3_PT, abs=0.01) for size in sizes)
    assert chars_outside(data) == []
    shown = text_of(data)
    for p in PAYLOADS + FORMULAS:
        assert "".join(p.split()) in shown, p
    assert "\u202e" not in shown and "（3000）" in shown
    assert decoded_qr(data) == [f"{BASE}/?region={COUNTY}"]


def test_sign_download_name_cannot_inject_headers(app):
    from webapp.services import services

    name = 'evil"; filename=evil.exe\r\nX-Injected: 1 <b>站</b>'
    services(app).repo.save([station(id="H-CD", name=name)])
    r = app.test_client().get("/stations/H-CD/sign.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert "X-Injected" not in r.headers
    assert "evil.exe" not in disposition
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "evil_filename_evil_exe_X-Injected_1_b_站_b_-H-CD.pdf"
