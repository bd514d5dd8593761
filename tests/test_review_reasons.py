"""The review queue's reasons in the page's language (issue 15 item 4, REASONS): each reason
:mod:`geo.review` and :mod:`geo.review_queue` make has a stable code and params
(:class:`geo.review.Reason`), the catalogue says each in zh and en with the same
placeholders, and ``/manage/review`` and an item's page print them in the page's language
(a Chinese page no English sentence, an English page no Chinese one), on SQLite and
PostgreSQL.

The stations are seeded to raise every kind of reason: no coordinates, coarse positions of
each level, the stated county contradicting the coordinates by name and by code (each with and
without the GCJ-02 hint; the GCJ-02 point is found with a seeded generator), township codes
and names contradicting the county, each other or (with township outlines) the position,
duplicates and stale records.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_review_queue as rq
import test_township_check as tt
from markupsafe import escape
from test_manage import PASSWORD

import support
from geo import review, review_queue
from geo.gazetteer import default_gazetteer, use_township_outlines
from geo.geocode.base import precision_rank
from geo.models import Precision
from webapp import planner_text

pytestmark = pytest.mark.both_backends

RONGSHUI, LIUJIANG = "450225", "450206"
ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)
UNKNOWN_TOWN = "450225998"  # an outline code the gazetteer does not have


def _fields(fmt: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(fmt) if f}


def _made_codes() -> set[str]:
    """The reason codes the two modules' source makes: every string in the first argument
    of a ``Reason(...)`` call (a literal, either side of ``x if c else y``, ``"a" + suffix``,
    an f-string's literal head — then completed with each coarse precision)."""
    found: set[str] = set()
    for mod in ("geo/review.py", "geo/review_queue.py"):
        tree = ast.parse((ROOT / mod).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Reason"
                and node.args
            ):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr):  # f"coarse_{level}"
                head = arg.values[0]
                assert isinstance(head, ast.Constant)
                found |= {
                    head.value + p.value
                    for p in Precision
                    if precision_rank(p) > precision_rank(Precision.TOWNSHIP)
                }
                continue
            if isinstance(arg, ast.BinOp):  # "township_unknown" + suffix ("" or "_found")
                assert isinstance(arg.left, ast.Constant)
                found |= {arg.left.value, arg.left.value + "_found"}
                continue
            for sub in ast.walk(arg):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    found.add(sub.value)
    return found


def test_every_reason_code_has_zh_and_en_with_the_same_placeholders():
    made = _made_codes()
    declared = review.REASON_CODES | review_queue.REASON_CODES
    assert made == declared, made ^ declared
    for code in sorted(declared):
        key = f"review.reason.{code}"
        assert key in planner_text.MESSAGES, key
        zh, en = planner_text.MESSAGES[key]
        assert _fields(zh) == _fields(en), key
        assert re.search(r"[\u4e00-\u9fff]", zh), key
        # the English sentence has no Chinese of its own (params may be Chinese names)
        assert not re.search(r"[\u4e00-\u9fff]", en), key


# -- seeded stations raising every reason --------------------------------------------------------
def _stations(g):
    _wx, _wy, gx, gy = rq._gcj_trap(g)
    (x, y), (x2, y2) = tt._points_in(tt.WEST, RONGSHUI, 2)
    (ex, ey), *_ = tt._points_in(tt.EAST, RONGSHUI, 1)
    rs = g.get(RONGSHUI)
    no_county = {"county": None, "county_code": None}

    def st(id_: str, code: str, lon, lat, **kw):
        return dataclasses.replace(rq._station(id_, code, lon, lat), **kw)

    return [
        st(
            "NOPOS", RONGSHUI, None, None, orig_lon=None, orig_lat=None, precision=Precision.UNKNOWN
        ),
        st("C-COUNTY", RONGSHUI, rs.lon, rs.lat, precision=Precision.COUNTY),
        st("C-PREF", RONGSHUI, rs.lon, rs.lat + 0.002, precision=Precision.PREFECTURE),
        st("C-UNK", RONGSHUI, rs.lon, rs.lat + 0.004, precision=Precision.UNKNOWN),
        # stated county by name (柳江区) while the point is in 融水; then the GCJ-02 trap
        st("K-NAME", LIUJIANG, x, y),
        st("K-GCJ", RONGSHUI, gx, gy),
        # stated county by code only
        st("K-CODE", LIUJIANG, x2, y2, county=None),
        st("K-CODEGCJ", RONGSHUI, gx, gy, county=None),
        # townships
        st("T-CODE", RONGSHUI, x, y, township_code=tt.DANZHOU),
        st("T-CODEF", RONGSHUI, x, y, township_code=tt.DANZHOU, **no_county),
        st("T-NAME", RONGSHUI, x, y, township_code=tt.HEMU, township="火星乡"),
        st("T-NAMEO", RONGSHUI, x, y, township_code=tt.HEMU, township="三防镇"),
        st("T-NONE", RONGSHUI, x, y, township="火星乡"),
        st("T-NONEF", RONGSHUI, x, y, township="火星乡", **no_county),
        st("T-OUT", RONGSHUI, x, y, township_code=tt.RONGSHUI_TOWN, township="融水镇"),
        st("T-OUTU", RONGSHUI, ex, ey, township_code=tt.HEMU, township="和睦镇"),
        st(
            "T-GUESS",
            RONGSHUI,
            x,
            y,
            township_code=tt.HEMU,
            township="三防镇",
            extra={"township_source": "nearest"},
        ),
        # duplicates and stale
        st("D1", RONGSHUI, rs.lon, rs.lat - 0.01, name="融水镇职工驿站"),
        st("D2", RONGSHUI, rs.lon + 0.0002, rs.lat - 0.01, name="融水镇 职工驿站"),
        st("S1", RONGSHUI, rs.lon, rs.lat - 0.02, updated_at=NOW - timedelta(days=400)),
    ]


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reasons")
    g = default_gazetteer()
    outlines = tt._outline_file(
        tmp, [({"乡镇代码": tt.HEMU}, tt.WEST), ({"乡镇代码": UNKNOWN_TOWN}, tt.EAST)]
    )
    users = {"rs_editor": ("editor", (rq.LIUZHOU,))}
    with support.workspace(request, tmp, users, PASSWORD, _stations(g), approval=False) as ws:
        use_township_outlines(outlines)
        try:
            yield ws
        finally:
            use_township_outlines(None)


def _queue(client) -> list[dict]:
    rv = client.get("/manage/review?format=json&state=all")
    assert rv.status_code == 200, rv.get_data(as_text=True)
    return rv.get_json()["items"]


def test_the_seeded_stations_raise_every_code_and_the_json_carries_codes(env):
    client = support.login(env["app"], "rs_editor", PASSWORD)
    items = _queue(client)
    made = {r["code"] for i in items for r in i["reason_codes"]}
    # every code but the never-updated one (a stored station always has a time)
    assert made == (review.REASON_CODES | review_queue.REASON_CODES) - {"stale_never"}
    for i in items:
        assert len(i["reason_codes"]) == len(i["reasons"])
        for r in i["reason_codes"]:
            assert set(r) == {"code", "params"}
    # the CLI's and the API's sentences are as they were
    by_key = {i["key"]: i for i in items}
    assert by_key["coarse:C-COUNTY"]["reasons"] == ["position known only to the county"]
    assert by_key["coarse:NOPOS"]["reasons"] == ["no coordinates"]
    assert by_key["conflict:K-GCJ"]["reasons"][0].endswith(
        ": likely a GCJ-02 coordinate declared as WGS-84"
    )
    assert by_key["stale:S1"]["reasons"][0].startswith("not updated since ")
    assert "所述乡镇代码 450226101（丹洲镇）" in by_key["conflict:T-CODE"]["reasons"][0]


def test_a_station_never_updated_is_stale_with_its_own_code():
    g = default_gazetteer()
    s = rq._station("NEVER", RONGSHUI, g.get(RONGSHUI).lon, g.get(RONGSHUI).lat, updated_at=None)
    items = review_queue._computed([s], g, 365, 50.0, NOW)
    (stale,) = [i for i in items if i.kind == "stale"]
    (why,) = stale.details
    assert why.code == "stale_never" and why.text == "not updated since never (over 365 days)"
    assert planner_text.review_reason_text(why, "zh") == "从未更新（超过 365 天）"


_LIS = re.compile(r'<ul class="mg-reasons"[^>]*>(.*?)</ul>', re.S)


def _reason_lines(html: str) -> list[str]:
    return [li for ul in _LIS.findall(html) for li in re.findall(r"<li>(.*?)</li>", ul, re.S)]


#: Words only an English reason has.
_ENGLISH = re.compile(
    r"\b(no coordinates|position|stated|coordinates|township|apart|updated|likely|the)\b"
)
_CHINESE_WORDS = re.compile(r"所报|所述|坐标|位置|相距|未更新|同名|乡镇代码")


def test_chinese_pages_show_every_reason_in_chinese(env):
    client = support.login(env["app"], "rs_editor", PASSWORD)
    items = _queue(client)
    page = client.get("/manage/review?state=all&lang=zh").get_data(as_text=True)
    lines = _reason_lines(page)
    assert len(lines) == sum(len(i["reasons"]) for i in items)
    for line in lines:
        assert not _ENGLISH.search(line), line
    for i in items:
        for r in i["reason_codes"]:
            assert str(escape(planner_text.review_reason_text(r, "zh"))) in lines
        item_page = client.get(f"/manage/review/{i['key']}").get_data(as_text=True)
        shown = _reason_lines(item_page)
        assert shown == [
            str(escape(planner_text.review_reason_text(r, "zh"))) for r in i["reason_codes"]
        ]
        assert not any(_ENGLISH.search(x) for x in shown), shown


def test_english_pages_show_every_reason_in_english(env):
    client = support.login(env["app"], "rs_editor", PASSWORD)
    items = _queue(client)
    page = client.get("/manage/review?state=all&lang=en").get_data(as_text=True)
    lines = _reason_lines(page)
    assert len(lines) == sum(len(i["reasons"]) for i in items)
    for line in lines:
        assert not _CHINESE_WORDS.search(line), line
        assert _ENGLISH.search(line), line
    for i in items:
        item_page = client.get(f"/manage/review/{i['key']}?lang=en").get_data(as_text=True)
        shown = _reason_lines(item_page)
        assert shown == [
            str(escape(planner_text.review_reason_text(r, "en"))) for r in i["reason_codes"]
        ]
        assert not any(_CHINESE_WORDS.search(x) for x in shown), shown


def test_an_unknown_code_falls_back_to_the_sentence():
    r = {"code": "no_such_code", "params": {}}
    assert planner_text.review_reason_text(r, "zh", "as stored") == "as stored"
    bad = review.Reason("duplicate", {"distance_m": "3"}, "same name, 3 m apart")
    assert planner_text.review_reason_text(bad, "zh") == "same name, 3 m apart"
