"""Registry import/export: formats, validation rules, the report, transactions, round trips."""

from __future__ import annotations

import json
import sqlite3

import openpyxl
import pytest

from geo import crs
from geo.errors import FileFormatError, ImportRefused
from geo.models import Precision, Status
from geo.records import (
    export_stations,
    import_registry,
    normalise_text,
    read_registry,
)
from support import DATA

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends


def _by_line(report):
    out = {}
    for issue in report.rejected:
        out.setdefault(issue.line, []).append(issue)
    return out


def test_csv_with_title_row_validates_each_rule():
    stations, report = read_registry(DATA / "registry_zh.csv")
    rejected = _by_line(report)
    by_id = {s.id: s for s in stations}
    # Header is on line 2 (a title row above it); data starts on line 3.
    assert set(by_id) == {"T-001", "T-002", "T-003", "T-007", "T-011"}
    assert [i.field for i in rejected[6]] == ["kind"] and "missing" in rejected[6][0].reason
    assert "did you mean 工会爱心驿站" in rejected[7][0].reason
    assert rejected[8][0].field == "lon" and "not a number" in rejected[8][0].reason
    assert "outside China" in rejected[10][0].reason
    assert rejected[11][0].field == "crs" and "gcj02" in rejected[11][0].reason
    assert "duplicate id (first on line 3)" in rejected[12][0].reason
    assert rejected[13][0].field == "name" and "same name" in rejected[13][0].reason
    assert report.rows == 12
    assert report.rejected_lines == [6, 7, 8, 10, 11, 12, 13]


def test_normalisation_swap_and_warnings():
    stations, report = read_registry(DATA / "registry_zh.csv")
    by_id = {s.id: s for s in stations}
    assert by_id["T-001"].phone == "12351"  # full-width digits
    assert by_id["T-011"].name == "柳北区 外卖骑手 驿站"  # stray spaces collapsed
    assert by_id["T-011"].status is Status.PLANNED
    swapped = by_id["T-007"]
    assert (swapped.lon, swapped.lat) == (109.3995, 24.3301)
    warned = {(w.line, w.field) for w in report.warnings}
    assert (9, "lon") in warned  # swapped, fixed with a warning
    assert (14, "services") in warned  # 洗车 is not a service
    assert (14, "hours") in warned  # 25:00 is not a time
    assert by_id["T-011"].services == ("drinking_water",)
    assert (2, "自定义栏目") in warned  # unknown column kept in extra
    assert by_id["T-001"].extra == {"自定义栏目": "甲"}


def test_declared_systems_are_converted_and_kept():
    stations, _ = read_registry(DATA / "registry_zh.csv")
    by_id = {s.id: s for s in stations}
    gcj = by_id["T-002"]
    assert gcj.orig_crs == "gcj02" and (gcj.orig_lon, gcj.orig_lat) == (109.4105, 24.3122)
    expected = crs.gcj02_to_wgs84(109.4105, 24.3122)
    assert crs.distance_m(gcj.lon, gcj.lat, *expected) < 0.05
    assert 400 < crs.distance_m(gcj.lon, gcj.lat, gcj.orig_lon, gcj.orig_lat) < 700
    bd = by_id["T-003"]
    assert bd.orig_crs == "bd09"
    back = crs.wgs84_to_bd09(bd.lon, bd.lat)
    assert crs.distance_m(*back, 109.3850, 24.3360) < 0.5
    wgs = by_id["T-001"]
    assert (wgs.lon, wgs.lat) == (109.4213, 24.3075) and wgs.orig_crs == "wgs84"


def test_file_crs_option_applies_to_rows_without_one(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("名称,类型,经度,纬度\n甲站,驿站,109.41,24.33\n", encoding="utf-8")
    (s_wgs,), _ = read_registry(path)
    (s_gcj,), _ = read_registry(path, crs="gcj02")
    assert (s_wgs.lon, s_wgs.lat) == (109.41, 24.33)
    assert 500 < crs.distance_m(s_wgs.lon, s_wgs.lat, s_gcj.lon, s_gcj.lat) < 600


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    path = tmp_path / "r.csv"
    path.write_text(
        "名称,类型,经度,纬度,服务项目\n鹿寨县爱心驿站,爱心驿站,109.75,24.47,饮水、雨具\n",
        encoding=encoding,
    )
    (s,), report = read_registry(path)
    assert s.name == "鹿寨县爱心驿站" and s.services == ("drinking_water", "rain_gear")
    assert not report.rejected and not report.warnings


def test_xlsx_as_unions_keep_it(tmp_path):
    path = tmp_path / "名录.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["百色市职工之家名录"])
    ws.append([])
    ws.append(["序号", "名称", "类型", "地址", "经度", "纬度", "联系电话", "更新时间"])
    ws.append(
        [
            1,
            "田林县潞城瑶族乡职工之家",
            "职工之家",
            "田林县潞城瑶族乡",
            106.3,
            24.35,
            12351,
            "2026-11-01",
        ]
    )
    ws.append([2, "缺坐标的职工之家", "职工之家", "靖西市", None, None, None, None])
    wb.save(path)
    stations, report = read_registry(path)
    assert [s.name for s in stations] == ["田林县潞城瑶族乡职工之家"]
    assert stations[0].phone == "12351"  # a number cell, not "12351.0"
    assert stations[0].updated_at.isoformat() == "2026-10-31T16:00:00+00:00"  # China time
    assert report.rejected[0].line == 5 and "missing" in report.rejected[0].reason


def test_geojson_features(tmp_path):
    stations, report = read_registry(DATA / "registry.geojson")
    by_id = {s.id: s for s in stations}
    assert set(by_id) == {"G-1", "G-2"}
    assert by_id["G-1"].services == ("legal_advice", "reading")
    assert by_id["G-2"].orig_crs == "gcj02" and by_id["G-2"].kind == "workers_home"
    reasons = {i.line: i.reason for i in report.rejected}
    assert "not a Point" in reasons[3] and "missing" in reasons[4]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00\x01garbage", "no header row"),
        ("编号,地址\n1,柳州\n".encode(), "no header row with a name column"),
    ],
)
def test_unreadable_files_are_refused_whole(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=message):
        read_registry(path)


def test_bad_xlsx_and_unknown_extension(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    with pytest.raises(FileFormatError, match=r"not a readable \.xlsx"):
        read_registry(bad)
    with pytest.raises(FileFormatError, match="cannot tell the format"):
        read_registry(tmp_path / "x.doc") if (tmp_path / "x.doc").write_text("x") else None


def test_import_commits_valid_rows_and_reimport_updates(repo):
    report = import_registry(repo, DATA / "registry_zh.csv")
    assert report.committed and sorted(report.imported) == [
        "T-001",
        "T-002",
        "T-003",
        "T-007",
        "T-011",
    ]
    assert repo.count() == 5
    again = import_registry(repo, DATA / "registry_zh.csv")
    assert again.imported == [] and again.updated == [] and len(again.unchanged) == 5
    assert repo.count() == 5


def test_reimport_with_changes_updates_in_place(repo, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,经度,纬度,开放时间\nA1,甲站,驿站,109.41,24.33,24小时\n", encoding="utf-8"
    )
    import_registry(repo, path)
    path.write_text(
        "编号,名称,类型,经度,纬度,开放时间\nA1,甲站,驿站,109.41,24.33,每天 08:00-20:00\n",
        encoding="utf-8",
    )
    report = import_registry(repo, path)
    assert report.updated == ["A1"] and repo.get("A1").hours == "每天 08:00-20:00"


def test_same_name_within_50m_of_stored_station_is_a_duplicate(repo, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("编号,名称,类型,经度,纬度\nA1,甲站,驿站,109.41,24.33\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text(
        "编号,名称,类型,经度,纬度\nB1,甲站,驿站,109.4102,24.3301\nB2,甲站,驿站,109.42,24.33\n",
        encoding="utf-8",
    )
    import_registry(repo, a)
    report = import_registry(repo, b)
    assert report.imported == ["B2"]  # 1 km away: another station with the same name
    assert "stored station A1" in report.rejected[0].reason


def test_strict_refuses_everything(repo):
    with pytest.raises(ImportRefused) as info:
        import_registry(repo, DATA / "registry_zh.csv", strict=True)
    assert info.value.report.rejected_lines == [6, 7, 8, 10, 11, 12, 13]
    assert repo.count() == 0 and repo.revision() == 0


def test_failure_while_writing_leaves_database_as_it_was(repo, tmp_path, db_url):
    import_registry(repo, DATA / "registry.geojson")
    before = sorted((s.id, s.name) for s in repo.all())
    # A real failure inside the write: the database itself aborts the last insert.
    if repo.engine.dialect.name == "postgresql":
        import sqlalchemy as sa

        with repo.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.name = '最后一行' THEN RAISE EXCEPTION 'disk says no'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER boom BEFORE INSERT ON stations "
                    "FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
    else:
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        con.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON stations WHEN NEW.name = '最后一行' "
            "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
        con.commit()
        con.close()
    path = tmp_path / "r.csv"
    rows = "".join(f"N{i},站点{i},驿站,109.{i:02d},24.3\n" for i in range(40))
    path.write_text(
        "编号,名称,类型,经度,纬度\n" + rows + "Z,最后一行,驿站,109.5,24.3\n", encoding="utf-8"
    )
    with pytest.raises(Exception, match="disk says no"):
        import_registry(repo, path)
    assert sorted((s.id, s.name) for s in repo.all()) == before


@pytest.mark.parametrize(
    "fmt, lang",
    [
        ("csv", "en"),
        ("csv", "zh"),
        ("xlsx", "en"),
        ("xlsx", "zh"),
        ("geojson", "en"),
        ("gpkg", "en"),
    ],
)
def test_export_import_round_trip_is_lossless(repo, tmp_path, fmt, lang):
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    original = sorted(repo.all(), key=lambda s: s.id)
    assert any(s.extra for s in original) and any(s.orig_crs == "bd09" for s in original)
    out = export_stations(original, tmp_path / f"out.{fmt}", lang=lang)
    from geo.store import StationRepository

    other = StationRepository.from_url(f"sqlite:///{tmp_path / 'other.db'}")
    other.init_schema()
    report = import_registry(other, out)
    assert not report.rejected, report.rejected
    assert sorted(other.all(), key=lambda s: s.id) == original


def test_geojson_export_carries_every_field(tmp_path, repo):
    import_registry(repo, DATA / "registry_zh.csv")
    out = export_stations(repo.all(), tmp_path / "s.geojson")
    doc = json.loads(out.read_text(encoding="utf-8"))
    props = doc["features"][0]["properties"]
    for key in (
        "id",
        "name",
        "kind",
        "services",
        "lon",
        "lat",
        "orig_crs",
        "hours",
        "phone",
        "operator",  # the union field: `union` is an SQL keyword (see test_export_interop.py)
        "status",
        "demo",
        "location_precision",
        "updated_at",
    ):
        assert key in props
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert (lon, lat) == (props["lon"], props["lat"])


def test_precision_column_and_default():
    stations, _ = read_registry(DATA / "registry.geojson")
    assert all(s.precision is Precision.EXACT for s in stations)


def test_normalise_text():
    assert normalise_text("　柳州　 市 ") == "柳州 市"
    assert normalise_text("１２３ＡＢ") == "123AB"
    assert normalise_text(12351.0) == "12351"
    assert normalise_text(None) == ""


# -- issue 11 item 4: a stated county name is checked against the position ----------------------
def _point_in(g, code):
    """The seat of a county, checked to lie in its own outline."""
    d = g.get(code)
    assert g.county_codes_at(d.lon, d.lat)[0] == code
    return d.lon, d.lat


def test_stated_county_name_that_disagrees_with_the_position_is_reviewed(repo, tmp_path):
    from geo.gazetteer import default_gazetteer
    from geo.review import review_stations

    g = default_gazetteer()
    lon, lat = _point_in(g, "450205")  # 柳北区
    path = tmp_path / "r.csv"
    path.write_text(
        "编号,名称,类型,省,市,县区,经度,纬度\n"
        f"R,融水驿站,驿站,广西壮族自治区,柳州市,融水,{lon},{lat}\n"
        f"OK,柳北驿站,驿站,广西壮族自治区,柳州市,柳北区,{lon},{lat + 0.01}\n",
        encoding="utf-8",
    )
    report = import_registry(repo, path, gazetteer=g)
    warning = next(w for w in report.warnings if w.id == "R")
    assert "stated county 融水苗族自治县 but the position is in 柳北区" in warning.reason
    assert not [w for w in report.warnings if w.id == "OK"]
    assert repo.get("R").county_code == "450225"  # what the row states, never 柳北区 silently
    items = {i.id: i for i in review_stations(repo.all(), g)}
    assert set(items) == {"R"}
    assert "stated county 融水苗族自治县 but the position is in 柳北区" in items["R"].reasons[0]


def test_review_checks_the_name_of_a_station_stored_with_the_found_code():
    """Stations stored before the name check (柳北区's code, 县区=融水) reach the review list."""
    from geo.gazetteer import default_gazetteer
    from geo.models import Station
    from geo.review import review_stations

    g = default_gazetteer()
    lon, lat = _point_in(g, "450205")
    s = Station(
        id="R", name="融水驿站", kind="rest_stop", lon=lon, lat=lat,
        prefecture="柳州市", county="融水", county_code="450205", precision=Precision.EXACT,
    )  # fmt: skip
    items = review_stations([s], g)
    assert len(items) == 1 and items[0].reasons == [
        "stated county 融水苗族自治县 but the position is in 柳北区 (450225 stated, 450205 found)"
    ]


# -- issue 15 item 3: a row stating only its county code gets the province and prefecture ------
def test_county_code_that_agrees_gets_province_and_prefecture_codes(repo, tmp_path):
    """An area of any level covers an imported station (``geo.access.covers`` compares the
    stored codes): the missing levels above a stated county that agrees are filled."""
    from geo.access import covers
    from geo.gazetteer import default_gazetteer

    g = default_gazetteer()
    lon, lat = _point_in(g, "450225")
    path = tmp_path / "r.csv"
    path.write_text(
        f"编号,名称,类型,县区代码,经度,纬度\nC,融水驿站,驿站,450225,{lon},{lat}\n", encoding="utf-8"
    )
    import_registry(repo, path, gazetteer=g)
    s = repo.get("C")
    assert (s.province_code, s.prefecture_code, s.county_code) == ("450000", "450200", "450225")
    assert s.prefecture == "柳州市" and covers("450200", s)
