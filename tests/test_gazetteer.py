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


# -- issue 11: development zones at the end, municipalities written twice, former names ------
@pytest.mark.parametrize(
    "text, finest, rest",
    [
        ("安徽省马鞍山市博望区经济开发区", "340506", "经济开发区"),
        ("柳州市柳东新区", "450200", "柳东新区"),
        ("北京市东城区东华门街道高新区", "110101001000", "高新区"),
    ],
)
def test_zone_at_the_end_stays_in_rest(g, text, finest, rest):
    parsed = g.parse(text)
    assert parsed.finest.division.code == finest and parsed.rest == rest


@pytest.mark.parametrize(
    "text, county",
    [
        ("北京市北京市东城区东华门街道", "110101"),
        ("上海市上海市黄浦区", "310101"),
        ("天津市天津市和平区", "120101"),
        ("重庆市重庆市渝中区", "500103"),
        ("北京市市辖区东城区", "110101"),
        ("广西柳州市柳州市城中区", "450202"),
    ],
)
def test_a_unit_written_twice_is_read_once(g, text, county):
    parsed = g.parse(text)
    assert parsed.units["county"].division.code == county and not parsed.ambiguous


def test_repeat_is_only_a_fallback(g):
    # 融水县融水镇 still reads the township; 北京路 after 北京市 is a road.
    assert g.parse("柳州市融水县融水镇").units["township"].division.name == "融水镇"
    parsed = g.parse("北京市北京路1号")
    assert set(parsed.units) == {"province"} and parsed.rest == "北京路1号"


@pytest.mark.parametrize(
    "text, code, name",
    [
        ("柳州地区忻城县", "451321", "来宾市"),  # 地区 before 2002; 忻城县 is in 来宾市 now
        ("广西柳州市忻城县", "451321", "来宾市"),
        ("陕西省忻城县", "451321", "来宾市"),
    ],
)
def test_a_stated_lower_unit_wins_over_a_wrong_higher_one(g, text, code, name):
    parsed = g.parse(text)
    assert parsed.units["county"].division.code == code
    assert parsed.units["prefecture"].division.name == name and parsed.overridden
    assert parsed.rest == "" and "忻城县" in parsed.notes[0]


def test_an_ambiguous_or_bare_lower_unit_does_not_override(g):
    # 城关镇 is in hundreds of counties: the stated city stands.
    parsed = g.parse("柳州市城关镇")
    assert parsed.units["prefecture"].division.code == "450200" and not parsed.overridden
    # 建国门外 (a bare short name of a 东城区 township) in 朝阳区 does not move the address.
    parsed = g.parse("北京市朝阳区建国门外大街1号")
    assert parsed.units["county"].division.code == "110105" and not parsed.overridden


@pytest.mark.parametrize(
    "text, county",
    [
        ("杭州市下城区", "330105"),  # merged into 拱墅区 in 2021
        ("浙江省杭州市下城区武林街道", "330105"),
        ("户县", "610118"),  # 鄠邑区 since 2016
        ("陕西省西安市户县", "610118"),
    ],
)
def test_curated_former_names(g, text, county):
    parsed = g.parse(text)
    assert parsed.units["county"].division.code == county and parsed.used_former_name


def test_stated_county_reads_names_under_their_parents(g):
    assert g.stated_county("广西壮族自治区", "柳州市", "融水").code == "450225"
    assert g.stated_county("北京市", "北京市", "东城区").code == "110101"
    assert g.stated_county(None, None, "城中区") is None  # several 城中区
    assert g.stated_county("广西", "柳州市", "") is None


def test_taiwan_has_no_units_below_the_province(g):
    assert not g.has_units_below(g.get("710000"))
    assert g.has_units_below(g.get("450000"))
