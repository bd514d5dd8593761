"""Gazetteer, address parser and reverse geocoding on the bundled data."""

from __future__ import annotations

import pytest

from geo.gazetteer import default_gazetteer, normalise_address


@pytest.fixture(scope="module")
def g():
    return default_gazetteer()


def units(parsed):
    return {lvl: m.division.code for lvl, m in parsed.units.items()}


@pytest.mark.parametrize(
    "text, expected, rest",
    [
        (
            "柳州市鱼峰区天马街道文笔路18号",
            {"prefecture": "450200", "county": "450203", "township": "450203001000"},
            "文笔路18号",
        ),
        (
            "广西壮族自治区柳州市融水苗族自治县融水镇",
            {
                "province": "450000",
                "prefecture": "450200",
                "county": "450225",
                "township": "450225100000",
            },
            "",
        ),
        # short names with suffixes, missing province
        (
            "柳州融水县融水镇",
            {"prefecture": "450200", "county": "450225", "township": "450225100000"},
            "",
        ),
        # township named without its county
        ("柳州市天马街道", {"prefecture": "450200", "township": "450203001000"}, ""),
        # full-width characters, spaces and brackets
        (
            "柳州市 （鱼峰区） 天马街道",
            {"prefecture": "450200", "county": "450203", "township": "450203001000"},
            "",
        ),
        (
            "百色市田林县潞城瑶族乡政府旁",
            {"prefecture": "451000", "county": "451029", "township": "451029200000"},
            "政府旁",
        ),
        # a road named after a district is not the district
        ("柳州市鱼峰路1号", {"prefecture": "450200"}, "鱼峰路1号"),
        # a renamed county by its former name (横县 → 横州市)
        ("广西横县", {"province": "450000", "county": "450181"}, ""),
        (
            "陕西省榆林市定边县定边街道",
            {
                "province": "610000",
                "prefecture": "610800",
                "county": "610825",
                "township": "610825001000",
            },
            "",
        ),
        ("中国北京市东城区", {"province": "110000", "county": "110101"}, ""),
    ],
)
def test_parse(g, text, expected, rest):
    parsed = g.parse(text)
    assert units(parsed) == expected
    assert parsed.rest == rest
    assert not parsed.ambiguous


def test_village_within_township(g):
    parsed = g.parse("柳州市柳江区拉堡镇基隆村委会3组")
    assert parsed.units["village"].division.code == "450206100203"
    assert parsed.rest == "3组"


def test_ambiguous_names_keep_what_they_share(g):
    alone = g.parse("城关镇")
    assert alone.ambiguous and alone.units == {} and alone.candidate_count > 50
    in_henan = g.parse("河南省城关镇")
    assert in_henan.ambiguous and units(in_henan) == {"province": "410000"}
    assert all(c["township"].division.province_code == "410000" for c in in_henan.candidates)


def test_normalise_address():
    assert normalise_address("中华人民共和国　广西（柳州）市 ") == "广西柳州市"


def test_lookup_aliases(g):
    assert {d.code for d in g.lookup("柳州")} >= {"450200"}
    assert "450225" in {d.code for d in g.lookup("融水")}
    assert "450000" in {d.code for d in g.lookup("广西")}


@pytest.mark.parametrize(
    "lon, lat, county",
    [
        (109.4150, 24.3050, "450203"),  # Liuzhou, Yufeng district
        (106.6165, 23.8975, "451002"),  # Baise, Youjiang district
        (107.5960, 37.5870, "610825"),  # Dingbian county town
        (116.3975, 39.9087, "110101"),  # Tiananmen, Dongcheng
    ],
)
def test_reverse_county(g, lon, lat, county):
    result = g.reverse(lon, lat)
    assert result.units["county"].code == county
    assert result.township.county_code == county
    assert result.township_distance_m < 30_000


def test_reverse_outside(g):
    assert g.reverse(139.69, 35.69) is None  # Tokyo
    assert list(g.county_codes_at([139.69, 109.415], [35.69, 24.305])) == ["", "450203"]


@pytest.mark.parametrize(
    "text, expected, rest",
    [
        # a character that may be a suffix or start the next name
        ("汉中镇巴县碾子镇", {"prefecture": "610700", "county": "610728"}, ""),
        (
            "江苏镇江市京口区",
            {"province": "320000", "prefecture": "321100", "county": "321102"},
            "",
        ),
        ("临汾乡宁县", {"prefecture": "141000", "county": "141029"}, ""),
        # street words right before a unit whose name starts with them
        ("张家口桥东区", {"prefecture": "130700", "county": "130702"}, ""),
        ("唐山路南区学院路", {"prefecture": "130200", "county": "130202"}, "学院路"),
        # roads are not townships or villages
        ("柳州市柳北区解放北路1号", {"prefecture": "450200", "county": "450205"}, "解放北路1号"),
        ("百色市右江区中山一路", {"prefecture": "451000", "county": "451002"}, "中山一路"),
        ("南宁市青秀区东葛路", {"prefecture": "450100", "county": "450103"}, "东葛路"),
    ],
)
def test_parse_hard_cases(g, text, expected, rest):
    parsed = g.parse(text)
    got = {k: v for k, v in units(parsed).items() if k in expected}
    assert got == expected and parsed.rest == rest


def test_development_zone_is_skipped(g):
    parsed = g.parse("柳州市柳东新区雒容镇")
    assert parsed.units["township"].division.name == "雒容镇"
