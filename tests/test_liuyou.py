"""六有 (issue 15 item 7): facilities and manual checks on stations, the six criteria, the
counts per county and township, import/export of the new columns, the report workbook and
its CLI, the public station page — store parts on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer
from geo.liuyou import (
    CRITERIA,
    FACILITIES,
    LiuyouRules,
    Outcome,
    assess,
    assess_all,
    parse_facilities,
    register_facilities_text,
    summarise,
    write_report,
)
from geo.models import Station, Status
from geo.records import import_registry
from geo.records.export import export_stations
from webapp.services import services

pytestmark = pytest.mark.both_backends

U, P, F = Outcome.UNKNOWN, Outcome.PASS, Outcome.FAIL

# A real township of 三江侗族自治县 (450226) and a point inside the county.
SANJIANG = "450226"
GUYI = "450226100000"  # 古宜镇
GUYI_XY = (109.609017, 25.771258)


def _full(**kw) -> Station:
    """A station meeting all six criteria by the default rules."""
    base = dict(
        id="L1",
        name="三江县古宜镇工会爱心驿站",
        kind="rest_stop",
        lon=GUYI_XY[0],
        lat=GUYI_XY[1],
        precision="street",
        services=("drinking_water", "rest"),
        hours="每天 08:00-20:00",
        phone="12351",
        county_code=SANJIANG,
        county="三江侗族自治县",
        township_code=GUYI,
        township="古宜镇",
        facilities=("charging", "drinking_water", "first_aid_kit", "microwave", "seats"),
        liuyou={"sign": True, "rules": True, "manager": True},
    )
    base.update(kw)
    return Station(**base)


# ------------------------------------------------------------------------------ criteria
def test_a_complete_station_passes_all_six():
    a = assess(_full(), gazetteer=default_gazetteer())
    assert a.outcomes == {c.code: P for c in CRITERIA}
    assert a.score == 6 and a.complete and not a.reasons


def test_missing_data_is_unknown_not_fail():
    """A station that records nothing beyond its name and position: nothing fails that the
    record does not say."""
    bare = _full(
        precision="unknown",
        services=(),
        hours=None,
        phone=None,
        facilities=(),
        liuyou={},
        county_code=None,
        county=None,
    )
    a = assess(bare, gazetteer=default_gazetteer())
    assert a.outcomes == {
        "identity": U,  # the name has the standard wording, the sign is not checked
        "layout": U,
        "facilities": U,
        "functions": U,
        "rules": U,
        "map": U,
    }
    assert a.score == 0 and not a.complete


@pytest.mark.parametrize(
    ("change", "criterion"),
    [
        (dict(name="三江县古宜镇休息点"), "identity"),  # no standard wording
        (dict(liuyou={"sign": False, "rules": True, "manager": True}), "identity"),
        (dict(precision="county"), "layout"),
        # a position in 融水 (450225) stated as 三江: outside the stated county
        (dict(lon=109.2563, lat=25.0659), "layout"),
        (dict(facilities=("drinking_water", "seats")), "facilities"),
        (dict(hours="看心情"), "functions"),
        (dict(liuyou={"sign": True, "rules": False, "manager": True}), "rules"),
        (dict(status=Status.CLOSED), "map"),
        (dict(lon=None, lat=None), "map"),
    ],
)
def test_each_criterion_fails_on_what_the_record_says(change, criterion):
    a = assess(_full(**change), gazetteer=default_gazetteer())
    assert a.outcomes[criterion] is F, a
    assert criterion in a.reasons and not a.complete


def test_layout_without_a_gazetteer_is_unknown_not_pass():
    assert assess(_full()).outcomes["layout"] is U
    assert assess(_full(precision="township")).outcomes["layout"] is F  # precision still known


def test_rules_are_configurable():
    rules = LiuyouRules.from_text(
        json.dumps(
            {
                "required_facilities": ["饮水"],
                "min_precision": "township",
                "name_words": ["休息点"],
                "require_phone": False,
            }
        )
    )
    assert rules.required_facilities == ("drinking_water",)
    a = assess(
        _full(name="古宜休息点", facilities=("drinking_water",), precision="township", phone=None),
        rules,
        default_gazetteer(),
    )
    assert a.complete, a
    for bad in ('{"required_facilities": ["无此设施"]}', '{"nope": 1}', "[1]", "{"):
        with pytest.raises(ValidationError):
            LiuyouRules.from_text(bad)


def test_facility_taxonomy_is_open():
    assert parse_facilities("饮水、座椅;WiFi，冰箱") == (
        "drinking_water",
        "fridge",
        "seats",
        "wifi",
    )
    with pytest.raises(ValidationError, match="did you mean"):
        parse_facilities("微波")
    register_facilities_text("shower:淋浴:Shower")
    try:
        assert parse_facilities("淋浴") == ("shower",)
    finally:
        FACILITIES.pop("shower")
    with pytest.raises(ValidationError):
        register_facilities_text("bad-entry")


# ------------------------------------------------------------------------------ aggregates
def test_counts_per_county_and_township_keep_units_without_stations():
    g = default_gazetteer()
    rng = random.Random(42)
    stations = []
    for i in range(12):
        stations.append(
            _full(
                id=f"R{i}",
                facilities=() if rng.random() < 0.3 else _full().facilities,
                liuyou={"sign": rng.random() < 0.8},
            )
        )
    assessments = assess_all(stations, gazetteer=g)
    counties, towns = summarise(stations, assessments, SANJIANG, g)
    all_towns = [d.code for d in g.units if d.level == "township" and d.county_code == SANJIANG]
    assert len(all_towns) > 1
    assert [c.code for c in counties] == [SANJIANG]
    assert sorted(t.code for t in towns) == sorted(all_towns)
    empty = [t for t in towns if t.code != GUYI]
    assert empty and all(t.stations == 0 and t.mean_score is None for t in empty)
    guyi = next(t for t in towns if t.code == GUYI)
    assert guyi.stations == counties[0].stations == 12
    want_complete = sum(a.complete for a in assessments)
    assert guyi.complete == counties[0].complete == want_complete
    for c in CRITERIA:  # every station counted once per criterion
        assert sum(guyi.counts[c.code].values()) == 12
        assert guyi.counts[c.code][F.value] == sum(a.outcomes[c.code] is F for a in assessments)


# ------------------------------------------------------------------------------ store
def test_store_round_trip_of_facilities_and_checks(repo):
    s = _full()
    repo.save([s])
    got = repo.get("L1")
    assert got.facilities == s.facilities and got.liuyou == s.liuyou
    repo.save([_full(facilities=(), liuyou={"sign": False})])
    got = repo.get("L1")
    assert got.facilities == () and got.liuyou == {"sign": False}


# ------------------------------------------------------------------------------ import/export
def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _row(i: int, **kw) -> dict:
    row = {
        "编号": f"C{i}",
        "名称": f"古宜镇{i}号工会爱心驿站",
        "类型": "爱心驿站",
        "经度": f"{GUYI_XY[0] + i / 1000:.6f}",
        "纬度": f"{GUYI_XY[1]:.6f}",
        "县区代码": SANJIANG,
        "设施": "饮水、休息座椅;充电",
        "统一标识": "是",
        "制度上墙": "否",
        "明确负责人": "",
    }
    row.update(kw)
    return row


def test_import_reads_the_new_columns_and_rejects_an_unknown_facility(repo, tmp_path):
    path = _write_csv(
        tmp_path / "r.csv",
        [
            _row(1),
            _row(2, 设施="饮水、按摩椅"),
            _row(3, 明确负责人="张三"),
            _row(4, 统一标识="也许"),
        ],
    )
    report = import_registry(repo, path)
    rejected = {(i.line, i.field) for i in report.rejected}
    assert rejected == {(3, "facilities"), (5, "liuyou_sign")}  # header is line 1
    bad = next(i for i in report.rejected if i.field == "facilities")
    assert "按摩椅" in bad.reason and bad.value == "按摩椅"
    s1 = repo.get("C1")
    assert s1.facilities == ("charging", "drinking_water", "seats")
    assert s1.liuyou == {"sign": True, "rules": False}  # blank 负责人: unknown, left out
    s3 = repo.get("C3")
    assert s3.liuyou["manager"] is True and "张三" not in json.dumps(s3.to_dict())
    assert any(w.field == "liuyou_manager" and w.line == 4 for w in report.warnings)


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "zh"), ("xlsx", "en"), ("geojson", "en")])
def test_export_and_reimport_keep_facilities_and_checks(repo, tmp_path, fmt, lang):
    stations = [
        _full(id="E1"),
        _full(id="E2", lon=109.62, facilities=("wifi",), liuyou={"rules": False}),
        _full(id="E3", lon=109.63, facilities=(), liuyou={}),
    ]
    path = export_stations(stations, tmp_path / f"out.{fmt}", lang=lang)
    if fmt == "xlsx":
        header = [c.value for c in next(openpyxl.load_workbook(path).active.iter_rows())]
        assert {"facilities", "liuyou_sign", "liuyou_rules", "liuyou_manager"} <= set(header)
    report = import_registry(repo, path)
    assert not report.rejected, report.rejected
    for s in stations:
        got = repo.get(s.id)
        assert (got.facilities, got.liuyou) == (s.facilities, s.liuyou), s.id


def test_geojson_facilities_as_a_list_with_a_bad_code(repo, tmp_path):
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [GUYI_XY[0] + i / 100, GUYI_XY[1]]},
            "properties": {"name": f"驿站{i}", "kind": "rest_stop", "facilities": facs},
        }
        for i, facs in enumerate([["wifi", "饮水"], ["teleporter"]], start=1)
    ]
    path = tmp_path / "r.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    report = import_registry(repo, path)
    assert [(i.line, i.field, i.value) for i in report.rejected] == [
        (2, "facilities", "teleporter")
    ]
    (s,) = repo.all()
    assert s.facilities == ("drinking_water", "wifi")


# ------------------------------------------------------------------------------ report + CLI
def test_report_workbook_reads_back(tmp_path):
    g = default_gazetteer()
    stations = [_full(id="W1", demo=True), _full(id="W2", facilities=(), demo=True)]
    path = write_report(tmp_path / "r.xlsx", stations, SANJIANG, gazetteer=g)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "县区汇总", "乡镇汇总", "站点明细"]
    county = list(wb["县区汇总"].values)
    assert county[0][:4] == ("区划代码", "名称", "县区代码", "站点数")
    assert county[1][:5] == (SANJIANG, "三江侗族自治县", SANJIANG, 2, 1)
    towns = list(wb["乡镇汇总"].values)[1:]
    assert sum(1 for r in towns if r[3] == 0) == len(towns) - 1  # empty townships listed
    detail = {r[0]: r for r in list(wb["站点明细"].values)[1:]}
    head = next(wb["站点明细"].values)
    col = {h: i for i, h in enumerate(head)}
    assert detail["W1"][col["六有齐全"]] == "是" and detail["W1"][col["得分（0-6）"]] == 6
    assert detail["W2"][col["健全设施"]] == "未知" and detail["W2"][col["设施"]] in ("", None)
    notes = " ".join(str(v) for r in wb["说明"].values for v in r)
    assert "演示数据" in notes and "示例" in notes


def test_cli_report_of_the_demo_registry(db_url, tmp_path, monkeypatch):
    from webapp.cli import main

    monkeypatch.setenv("YIZHAN_DATABASE_URL", db_url)
    runner = CliRunner()
    assert runner.invoke(main, ["demo"]).exit_code == 0
    out = tmp_path / "liuyou.xlsx"
    result = runner.invoke(main, ["liuyou", "report", "--area", "450200", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "illustrative" in result.output
    wb = openpyxl.load_workbook(out)
    rows = list(wb["站点明细"].values)[1:]
    assert rows and all(str(r[0]).startswith("DEMO") for r in rows)
    head = next(wb["站点明细"].values)
    outcomes = {r[head.index(c.zh)] for r in rows for c in CRITERIA}
    assert outcomes == {"达标", "未达标", "未知"}  # the demo mixes all three
    counties = list(wb["县区汇总"].values)[1:]
    assert sum(r[3] for r in counties) == len(rows)
    assert any(r[3] == 0 for r in list(wb["乡镇汇总"].values)[1:])
    bad = runner.invoke(main, ["liuyou", "report", "--area", "12", "--out", str(out)])
    assert bad.exit_code != 0 and "--area" in bad.output
    bad = runner.invoke(main, ["liuyou", "report", "--area", "450200", "--out", "x.csv"])
    assert bad.exit_code != 0 and "xlsx" in bad.output


# ------------------------------------------------------------------------------ station page
def test_station_page_shows_facilities_and_the_six(app):
    services(app).repo.save(
        [_full(id="P1", facilities=("drinking_water", "wifi"), liuyou={"sign": True})]
    )
    client = app.test_client()
    html = client.get("/stations/P1").get_data(as_text=True)
    facs = html.split('id="yz-station-facilities">', 1)[1].split("</ul>", 1)[0]
    assert (
        '<li class="yz-service yz-facility" data-code="drinking_water" translate="no">饮水' in facs
    )
    assert "无线网络" in facs
    assert 'data-criterion="facilities" data-outcome="fail"' in html  # seats etc. missing
    assert 'data-criterion="rules" data-outcome="unknown"' in html
    assert 'data-criterion="map" data-outcome="pass"' in html
    assert "有地图可查" in html and 'id="yz-liuyou-score"' in html
    en = client.get("/stations/P1?lang=en").get_data(as_text=True)
    assert "Wi-Fi" in en.split('id="yz-station-facilities">', 1)[1].split("</ul>", 1)[0]
    assert "On the map" in en
    services(app).repo.save([_full(id="P2", facilities=())])
    html = client.get("/stations/P2").get_data(as_text=True)
    assert 'id="yz-station-facilities" data-i18n="liuyouNoFacilities">未登记' in html


def test_station_page_json_twin_has_facilities_and_the_six(app):
    services(app).repo.save([_full(id="J1", facilities=("wifi",), liuyou={})])
    doc = app.test_client().get("/stations/J1?format=json").get_json()
    assert doc["facilities"] == [{"code": "wifi", "zh": "无线网络", "en": "Wi-Fi"}]
    outcomes = {c["code"]: c["outcome"] for c in doc["liuyou"]["criteria"]}
    assert list(outcomes) == [c.code for c in CRITERIA]
    assert outcomes["facilities"] == "fail" and outcomes["rules"] == "unknown"
    assert doc["liuyou"]["score"] == sum(o == "pass" for o in outcomes.values())
