"""The offline geocoder, batch geocoding, and geocoding/reverse geocoding on import."""

from __future__ import annotations

import csv
import json

import pytest

from geo import crs
from geo.errors import GeocodeNotFound
from geo.gazetteer import default_gazetteer
from geo.geocode import OfflineGeocoder, geocode_many
from geo.geocode.batch import geocode_file
from geo.records import import_registry
from support import cli
from webapp.services import services


@pytest.fixture(scope="module")
def geocoder():
    return OfflineGeocoder()


def test_township_address(geocoder):
    r = geocoder.geocode("柳州市鱼峰区天马街道文笔路18号")
    t = default_gazetteer().get("450203001000")
    assert (r.lon, r.lat) == (t.lon, t.lat)  # placed at the township's (approximate) position
    assert r.precision == "township" and r.provider == "offline"
    assert r.codes == {
        "province_code": "450000",
        "prefecture_code": "450200",
        "county_code": "450203",
        "township_code": "450203001000",
    }
    assert r.names["county"] == "鱼峰区" and r.rest == "文笔路18号"
    assert r.formatted.startswith("广西壮族自治区柳州市鱼峰区天马街道")


def test_county_address_uses_the_seat(geocoder):
    r = geocoder.geocode("融水县")
    seat = default_gazetteer().get("450225")
    assert r.precision == "county" and (r.lon, r.lat) == (seat.lon, seat.lat)


def test_city_narrows(geocoder):
    with pytest.raises(GeocodeNotFound, match="ambiguous"):
        geocoder.geocode("城关镇")
    r = geocoder.geocode("城关镇", city="那坡县")
    assert r.codes["county_code"] == "451026"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("hello world 123", "no Chinese"),
        ("柳" * 201, "longer than 200"),
        ("河南省", "only a province"),
        ("火星基地一号", "no known place"),
        ("城关镇", "ambiguous: the address fits"),
    ],
)
def test_not_found_with_reason_never_a_made_up_position(geocoder, text, reason):
    with pytest.raises(GeocodeNotFound, match=reason):
        geocoder.geocode(text)


def test_batch_never_loses_rows(geocoder):
    rows = geocode_many(geocoder, ["柳州市鱼峰区", "", "城关镇", "百色市那坡县城厢镇"])
    assert [r.status for r in rows] == ["ok", "failed", "failed", "ok"]
    assert rows[1].error == "empty address"


def test_geocode_file_keeps_columns(geocoder, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "序号,名称,详细地址,备注\n1,甲,柳州市鱼峰区天马街道,x\n2,乙,hello,\n", encoding="gb18030"
    )
    out = tmp_path / "out.csv"
    summary = geocode_file(geocoder, src, out)
    assert summary == {"rows": 2, "by_precision": {"township": 1, "failed": 1}}
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["名称"] == "甲" and rows[0]["备注"] == "x" and rows[0]["status"] == "ok"
    assert rows[0]["township_code"] == "450203001000" and float(rows[0]["lon"]) > 109
    assert rows[1]["status"] == "failed" and "no Chinese" in rows[1]["reason"]


def test_cli_geocode(tmp_path):
    ok = cli("geocode", "百色市田林县潞城瑶族乡")
    doc = json.loads(ok.stdout)
    assert doc["status"] == "ok" and doc["codes"]["township_code"] == "451029200000"
    bad = cli("geocode", "hello", check=False)
    assert bad.returncode == 1 and json.loads(bad.stdout)["status"] == "not_found"
    src = tmp_path / "in.csv"
    src.write_text("地址\n柳州市融水县\n城关镇\n", encoding="utf-8")
    proc = cli("geocode", "--input", str(src), "--out", str(tmp_path / "o.xlsx"), check=False)
    assert proc.returncode == 1 and "county" in proc.stdout and "failed" in proc.stdout


def test_import_geocodes_rows_without_coordinates(repo, tmp_path, geocoder):
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,地址,县区,经度,纬度\n"
        "A,天马街道驿站,驿站,柳州市鱼峰区天马街道文笔路,,,\n"
        "B,融水驿站,驿站,融水县,,,\n"
        "C,无地址驿站,驿站,,,,\n"
        "D,城关驿站,驿站,城关镇,,,\n",
        encoding="utf-8",
    )
    report = import_registry(repo, path, geocoder=geocoder, gazetteer=default_gazetteer())
    a, b = repo.get("A"), repo.get("B")
    assert a.precision == "township" and a.township_code == "450203001000"
    assert a.extra["geocoded_by"] == "offline" and a.orig_crs is None
    assert b.precision == "county" and b.county == "融水苗族自治县"
    assert any(w.line == 3 and "review" in w.reason for w in report.warnings)
    reasons = {r.line: r.reason for r in report.rejected}
    assert "no address to geocode" in reasons[4]
    assert "could not be geocoded" in reasons[5] and "ambiguous" in reasons[5]


def _border_point(g):
    """A WGS-84 point in Liuzhou whose GCJ-02 rendering lies in another county."""
    for step in range(400):
        wgs = (109.30 + step * 0.0005, 24.31)
        gcj = crs.wgs84_to_gcj02(*wgs)
        a, b = g.county_codes_at(*wgs)[0], g.county_codes_at(*gcj)[0]
        if a and b and a != b:
            return wgs, gcj, a, b
    raise AssertionError("no county border crossed by the GCJ-02 offset near Liuzhou")


def test_import_fills_codes_and_flags_a_gcj_coordinate_declared_wgs(repo, tmp_path):
    g = default_gazetteer()
    wgs, gcj, county, other = _border_point(g)
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,经度,纬度,坐标系,县区代码\n"
        f"A,无代码驿站,驿站,{wgs[0]},{wgs[1]},wgs84,\n"
        # As Amap shows it (GCJ-02), declared as WGS-84, with the county it really is in.
        f"B,坐标系写错的驿站,驿站,{gcj[0]},{gcj[1]},wgs84,{county}\n",
        encoding="utf-8",
    )
    report = import_registry(repo, path, gazetteer=g)
    a = repo.get("A")
    assert a.county_code == county and a.prefecture_code == "450200"
    assert a.province_code == "450000" and a.county == g.get(county).name
    assert a.township_code and a.extra["township_source"] == "nearest"
    warning = next(w for w in report.warnings if w.line == 3)
    assert warning.field == "county_code" and other in warning.reason
    assert "GCJ-02" in warning.reason
    assert repo.get("B").county_code == county  # the stated code is kept, not overwritten


def test_review_lists_imprecise_and_misplaced_stations(app, client, tmp_path):
    g = default_gazetteer()
    wgs, gcj, county, other = _border_point(g)
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,地址,经度,纬度,坐标系,县区代码\n"
        f"OK,正常驿站,驿站,,{wgs[0]},{wgs[1]},wgs84,{county}\n"
        f"GCJ,坐标系写错的驿站,驿站,,{gcj[0]},{gcj[1]},wgs84,{county}\n"
        "COARSE,只到县的驿站,驿站,融水县,,,,\n",
        encoding="utf-8",
    )
    import_registry(services(app).repo, path, geocoder=OfflineGeocoder(), gazetteer=g)
    doc = client.get("/api/review").get_json()
    items = {i["id"]: i for i in doc["items"]}
    assert set(items) == {"GCJ", "COARSE"} and doc["count"] == 2
    assert "GCJ-02" in items["GCJ"]["reasons"][0] and items["GCJ"]["found_county_code"] == other
    assert items["COARSE"]["reasons"] == ["position known only to the county"]


def test_batch_reads_through_the_one_table_reader(tmp_path):
    """Tabs are sniffed, blank rows skipped, short rows padded, and a bracketed address header
    (``地址（详细）``) found by the shared header matcher."""
    from geo.geocode.batch import read_table

    src = tmp_path / "in.tsv"
    src.write_text("序号\t地址（详细）\t备注\n1\t柳州市鱼峰区\n\n2\t百色市\tx\n", encoding="utf-8")
    header, rows = read_table(src)
    assert header == ["序号", "地址（详细）", "备注"]
    assert rows == [["1", "柳州市鱼峰区", ""], ["2", "百色市", "x"]]


def test_geocode_file_finds_a_bracketed_address_header(geocoder, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("序号,地址（详细）\n1,柳州市鱼峰区天马街道\n", encoding="utf-8")
    summary = geocode_file(geocoder, src, tmp_path / "out.csv")
    assert summary == {"rows": 1, "by_precision": {"township": 1}}


# -- issue 11 -------------------------------------------------------------------------------
def test_zone_after_a_county_is_placed_at_the_county(geocoder):
    r = geocoder.geocode("安徽省马鞍山市博望区经济开发区")
    assert r.codes["county_code"] == "340506" and r.rest == "经济开发区"


def test_cli_and_api_answer_a_zone_address_without_a_traceback(client):
    proc = cli("geocode", "安徽省马鞍山市博望区经济开发区", check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["codes"]["county_code"] == "340506"
    resp = client.get("/api/geocode", query_string={"q": "安徽省马鞍山市博望区经济开发区"})
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "text, county",
    [
        ("北京市北京市东城区东华门街道", "110101"),
        ("上海市上海市黄浦区", "310101"),
        ("天津市天津市和平区", "120101"),
        ("重庆市重庆市渝中区", "500103"),
    ],
)
def test_municipality_written_twice(geocoder, text, county):
    assert geocoder.geocode(text).codes["county_code"] == county


def test_import_geocodes_rows_whose_province_and_city_are_both_the_municipality(repo, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,省,市,县区,地址,经度,纬度\n"
        "BJ,东城驿站,驿站,北京市,北京市,东城区,东华门街道,,\n"
        "SH,黄浦驿站,驿站,上海市,上海市,黄浦区,,,\n"
        "ZONE,博望驿站,驿站,安徽省,马鞍山市,博望区,经济开发区,,\n",
        encoding="utf-8",
    )
    report = import_registry(repo, path, geocoder=OfflineGeocoder(), gazetteer=default_gazetteer())
    assert not report.rejected
    assert repo.get("BJ").township_code == "110101001000"
    assert repo.get("SH").county_code == "310101"
    assert repo.get("ZONE").county_code == "340506"


def test_former_prefecture_gives_way_to_the_stated_county(geocoder):
    r = geocoder.geocode("柳州地区忻城县")
    assert r.codes["county_code"] == "451321" and r.codes["prefecture_code"] == "451300"
    assert r.confidence < 0.9 and r.rest == ""


def test_curated_former_county_names(geocoder):
    assert geocoder.geocode("杭州市下城区").names["county"] == "拱墅区"
    assert geocoder.geocode("户县").names["county"] == "鄠邑区"


def test_taiwan_says_there_is_no_data_below_the_province(geocoder):
    for text in ("台湾省台北市信义区", "台湾台北市"):
        with pytest.raises(GeocodeNotFound, match="no data below it"):
            geocoder.geocode(text)
    with pytest.raises(GeocodeNotFound, match="too coarse"):  # provinces with data: unchanged
        geocoder.geocode("广西壮族自治区")


def test_result_notes_say_what_was_corrected():
    r = OfflineGeocoder().geocode("柳州地区忻城县城关镇")
    assert r.names["prefecture"] == "来宾市" and r.names["county"] == "忻城县"
    assert r.notes and "忻城县" in r.notes[0] and r.confidence < 1.0
    assert r.to_dict()["notes"] == r.notes
    assert OfflineGeocoder().geocode("广西柳州市融水苗族自治县").notes == []
