"""The network model: travel time on an OSM road graph (DESIGN §5).

Why one module of about 1,050 lines: the graph (:class:`RoadGraph`: reading, cache, CSR
arrays, components) and the model (:class:`NetworkModel`: snapping, Dijkstra, pair minutes)
share one private array layout, and a split would have to make that layout public. The OSM
reading (about 300 lines) is the candidate to move out to ``geo/travel/osm.py`` next.

An OSM extract (``.osm.pbf``) becomes a directed graph whose nodes are the OSM nodes of the
roads a mode may use and whose edges are the way segments between consecutive nodes, weighted
by travel seconds: ``haversine length ÷ speed``. One multi-source Dijkstra from all stations
then gives, for every node at once, the time to the nearest station and which station it is.

Reading
    :meth:`RoadGraph.from_pbf` streams the file with pyosmium (node locations kept in memory,
    only ways with a ``highway`` tag handed to Python), builds the graph with numpy, and caches
    it as ``.npz`` in ``cache_dir``; the cache key is the file's size, mtime and the SHA-256 of
    its first MiB, the mode and the speed table, so a changed file or table is rebuilt. A file
    that is not an OSM PBF, is corrupt, or holds no road the mode may use raises
    :class:`~geo.errors.FileFormatError` or :class:`~geo.errors.ValidationError`; an empty graph
    is never returned. Segments touching a node missing from the extract (ways clipped at
    its border) are dropped and counted in ``RoadGraph.stats``.

Speed table (km/h, per ``highway`` class; a class not listed is not used by that mode)

    ==================  =====  =====  =====
    highway             walk   ebike  car
    ==================  =====  =====  =====
    motorway            –      –      100
    motorway_link       –      –      60
    trunk               4.5    12     80
    trunk_link          4.5    12     50
    primary             4.5    15     60
    primary_link        4.5    15     40
    secondary           4.5    15     50
    secondary_link      4.5    15     40
    tertiary            4.5    15     40
    tertiary_link       4.5    15     30
    unclassified        4.5    15     30
    road                4.5    15     30
    residential         4.5    15     25
    living_street       4.5    10     10
    service             4.5    12     15
    track               4.5    10     10
    cycleway            4.5    15     –
    path                4.5    10     –
    footway             4.5    5      –
    pedestrian          4.5    5      –
    bridleway           4.5    –      –
    corridor            4.5    –      –
    steps               2.0    –      –
    ==================  =====  =====  =====

    ``speeds_kph`` overrides entries of a mode's table (``{"track": 0}`` or ``None`` removes a
    class). E-bikes on footway/pedestrian/path tagged ``bicycle=yes|designated|permissive``
    ride at the cycleway speed; otherwise 5 km/h is pushing pace.

Tags
    * ``maxspeed`` (car: the speed of the segment; e-bike: a cap on the table speed) when it
      parses: ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"10 knots"``, ``"50;30"`` (lowest), zone
      codes such as ``"CN:urban"`` (50), ``"CN:rural"`` (70), ``"CN:motorway"`` (120),
      ``"RU:living_street"`` (20), ``"DE:zone30"`` (30), and ``"walk"`` (6).
      ``maxspeed:forward``/``maxspeed:backward`` override it per direction. ``none``,
      ``signals`` and other text fall back to the table.
    * ``oneway`` (car and e-bike): ``yes``/``1``/``true`` forward only, ``-1``/``reverse``
      backward only, ``no`` both; ``reversible``/``alternating`` ways are not used;
      ``junction=roundabout|circular`` and ``highway=motorway`` are one-way unless tagged
      otherwise. E-bikes ride both ways where ``oneway:bicycle=no`` or
      ``cycleway=opposite*``. Walking is always both ways.
    * access: the first of (walk) ``foot, access``; (e-bike) ``bicycle, vehicle, access``;
      (car) ``motorcar, motor_vehicle, vehicle, access`` that is tagged decides; ``no``,
      ``private``, ``agricultural``, ``forestry``, ``delivery``, ``military``,
      ``use_sidepath`` exclude the way. ``motorroad=yes`` excludes walking and e-bikes.

Snapping
    A demand point or a station is joined to the nearest graph node (great-circle nearest, a
    KD-tree on the unit sphere over nodes that have an edge) by an off-network walking leg at
    ``walk_kph`` (default 4.5) over the straight-line distance. Points farther than
    ``max_snap_m`` (default 500 m) from every node are *unsnapped*: demand points get
    ``minutes = inf`` and ``unsnapped = True``; such stations cannot be used and are listed in
    :attr:`NetworkModel.last_unsnapped_stations`. There is no direct off-network walk between a
    demand point and a station: every trip goes through the graph. The snapping of the last
    few demand sets is remembered by content, so what-if runs (same demand, other stations)
    pay only for the Dijkstra.

    Points snap only to the *main* parts of the network: the largest weakly connected
    component, and any other with at least ``min_component_nodes`` nodes (default 100: an
    island's own road network stays usable). A small fragment (a parking aisle, a mapped
    courtyard, a road cut off by the extract's edge) is skipped: a station 17 m from a
    6-node fragment otherwise reaches nobody. Weak, not strong, connectivity: a one-way
    stub or a road leaving the extract belongs to the network in one direction and must not
    be dropped; a fragment with no link at all in either direction is what goes wrong.
    The points whose nearest node lies on a fragment are counted in
    :attr:`NetworkModel.last_fragment_snaps`; ``min_component_nodes=1`` snaps to every node.

Direction
    Times are **worker → station** (a worker travels to the station). On a one-way network
    the search runs on the *reversed* graph from a virtual source per station (edge to the
    station's node weighted by the station's walking leg), so a node's time is the time to
    drive from it to the nearest station. ``T(x) = walk(x → node) + graph(node → station node)
    + walk(station node → station)``; times above ``max_minutes`` are ``inf``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo.crs import distance_m
from geo.errors import FileFormatError, ValidationError
from geo.index import chord_to_m, lonlat_to_xyz, m_to_chord
from geo.travel.base import MODES, NearestTimes, PairMinutes

#: Float64 cells per Dijkstra block of :meth:`NetworkModel.pair_minutes` (sites × nodes).
PAIR_BLOCK_CELLS = 8_000_000

#: Default speeds (km/h) per mode and ``highway`` class. Classes not listed are not used.
SPEED_TABLES_KPH: dict[str, dict[str, float]] = {
    "walk": {
        **dict.fromkeys(
            (
                "trunk",
                "trunk_link",
                "primary",
                "primary_link",
                "secondary",
                "secondary_link",
                "tertiary",
                "tertiary_link",
                "unclassified",
                "road",
                "residential",
                "living_street",
                "service",
                "track",
                "cycleway",
                "path",
                "footway",
                "pedestrian",
                "bridleway",
                "corridor",
            ),
            4.5,
        ),
        "steps": 2.0,
    },
    "ebike": {
        "trunk": 12.0,
        "trunk_link": 12.0,
        "primary": 15.0,
        "primary_link": 15.0,
        "secondary": 15.0,
        "secondary_link": 15.0,
        "tertiary": 15.0,
        "tertiary_link": 15.0,
        "unclassified": 15.0,
        "road": 15.0,
        "residential": 15.0,
        "living_street": 10.0,
        "service": 12.0,
        "track": 10.0,
        "cycleway": 15.0,
        "path": 10.0,
        "footway": 5.0,
        "pedestrian": 5.0,
    },
    "car": {
        "motorway": 100.0,
        "motorway_link": 60.0,
        "trunk": 80.0,
        "trunk_link": 50.0,
        "primary": 60.0,
        "primary_link": 40.0,
        "secondary": 50.0,
        "secondary_link": 40.0,
        "tertiary": 40.0,
        "tertiary_link": 30.0,
        "unclassified": 30.0,
        "road": 30.0,
        "residential": 25.0,
        "living_street": 10.0,
        "service": 15.0,
        "track": 10.0,
    },
}

#: Access keys per mode, most specific first; the first one tagged decides.
ACCESS_KEYS: dict[str, tuple[str, ...]] = {
    "walk": ("foot", "access"),
    "ebike": ("bicycle", "vehicle", "access"),
    "car": ("motorcar", "motor_vehicle", "vehicle", "access"),
}
#: Access values that exclude a way.
DENIED = frozenset(
    {"no", "private", "agricultural", "forestry", "delivery", "military", "use_sidepath"}
)
_YES = frozenset({"yes", "1", "true"})
_REVERSE = frozenset({"-1", "reverse"})
_NO = frozenset({"no", "0", "false"})
_BIKE_OK = frozenset({"yes", "designated", "permissive"})

#: ``maxspeed`` zone codes (``XX:zone``), by zone, with country-specific exceptions.
ZONE_SPEEDS_KPH: dict[str, float] = {
    "urban": 50.0,
    "rural": 80.0,
    "motorway": 120.0,
    "trunk": 100.0,
    "living_street": 20.0,
    "walk": 6.0,
    "zone30": 30.0,
    "zone:30": 30.0,
    "zone20": 20.0,
    "zone:20": 20.0,
    "bicycle_road": 30.0,
}
COUNTRY_ZONE_SPEEDS_KPH: dict[str, float] = {
    "cn:rural": 70.0,
    "cn:motorway": 120.0,
    "cn:expressway": 100.0,
    "de:rural": 100.0,
    "de:motorway": 130.0,
    "fi:rural": 80.0,
    "ru:rural": 90.0,
    "ru:motorway": 110.0,
    "gb:nsl_single": 96.56,
    "gb:nsl_dual": 112.65,
}
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")
_UNIT = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}

#: Bumped when the graph built from the same file and table would differ.
CACHE_VERSION = 1
_UNDEFINED_COORD = 2147483647  # libosmium's fixed-point value of an invalid location


def parse_maxspeed(value: str | None) -> float | None:
    """km/h for an OSM ``maxspeed`` value, or ``None`` when it gives no usable number.

    ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"CN:urban"``, ``"50;30"`` (the lowest) …
    """
    if not value:
        return None
    best = None
    for part in str(value).split(";"):
        v = part.strip().lower()
        speed = None
        m = _NUMBER.match(v)
        if m:
            speed = float(m.group(1)) * _UNIT[m.group(2)]
        elif v == "walk":
            speed = ZONE_SPEEDS_KPH["walk"]
        elif ":" in v:
            speed = COUNTRY_ZONE_SPEEDS_KPH.get(v)
            if speed is None:
                speed = ZONE_SPEEDS_KPH.get(v.split(":", 1)[1])
        if speed is not None and 0.0 < speed <= 250.0:
            best = speed if best is None else min(best, speed)
    return best


def speed_table(mode: str, speeds_kph: Mapping[str, float | None] | None = None) -> dict:
    """The mode's table with ``speeds_kph`` merged in (``None``/``0`` drops a class)."""
    if mode not in SPEED_TABLES_KPH:
        raise ValidationError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}", field="mode")
    table = dict(SPEED_TABLES_KPH[mode])
    for key, value in (speeds_kph or {}).items():
        if value is None or value == 0:
            table.pop(key, None)
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not (v > 0 and math.isfinite(v)):
            raise ValidationError(
                f"speed for highway={key} must be a positive number of km/h, got {value!r}",
                field="speeds_kph",
            )
        table[str(key)] = v
    if not table:
        raise ValidationError(
            "the speed table is empty: no road class is usable", field="speeds_kph"
        )
    return dict(sorted(table.items()))


def way_speeds(mode: str, table: Mapping[str, float], get) -> tuple[float, float] | None:
    """(forward, backward) km/h of a way for a mode, 0 for a forbidden direction.

    ``get`` is a tag lookup (``dict.get`` or pyosmium's ``TagList.get``). ``None`` when the
    mode may not use the way at all.
    """
    hw = get("highway")
    base = table.get(hw)
    if base is None:
        return None
    for key in ACCESS_KEYS[mode]:
        v = get(key)
        if v is not None:
            if v in DENIED:
                return None
            break
    if mode == "walk":
        if get("motorroad") == "yes":
            return None
        return base, base
    if mode == "ebike":
        if get("motorroad") == "yes":
            return None
        if hw in ("footway", "pedestrian", "path") and get("bicycle") in _BIKE_OK:
            base = table.get("cycleway", base)
    # one-way handling (car and e-bike)
    ow = get("oneway")
    if ow in ("reversible", "alternating"):
        return None
    fwd_ok = bwd_ok = True
    if ow in _YES:
        bwd_ok = False
    elif ow in _REVERSE:
        fwd_ok = False
    elif ow is None and (get("junction") in ("roundabout", "circular") or hw == "motorway"):
        bwd_ok = False
    if mode == "ebike" and (
        get("oneway:bicycle") in _NO or str(get("cycleway") or "").startswith("opposite")
    ):
        fwd_ok = bwd_ok = True
    max_all = parse_maxspeed(get("maxspeed"))
    max_f = parse_maxspeed(get("maxspeed:forward")) or max_all
    max_b = parse_maxspeed(get("maxspeed:backward")) or max_all
    if mode == "car":
        fwd, bwd = max_f or base, max_b or base
    else:
        fwd = min(base, max_f) if max_f else base
        bwd = min(base, max_b) if max_b else base
    return (fwd if fwd_ok else 0.0), (bwd if bwd_ok else 0.0)


def _file_key(path: Path, mode: str, table: Mapping[str, float]) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
    key = json.dumps(
        {
            "v": CACHE_VERSION,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "head_sha256": h.hexdigest(),
            "mode": mode,
            "speeds": table,
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()


def _check_pbf(path: Path) -> None:
    if not path.is_file():
        raise FileFormatError(f"cannot read OSM file {str(path)!r}: no such file", path=str(path))
    with path.open("rb") as f:
        head = f.read(64)
    # A PBF starts with a 4-byte big-endian size, then a BlobHeader whose type is "OSMHeader".
    if len(head) < 16 or b"OSMHeader" not in head[:32]:
        raise FileFormatError(
            f"{path.name} is not an OSM PBF file (.osm.pbf): it does not start with an "
            "OSMHeader block. Download a PBF extract (e.g. from Geofabrik or a mirror).",
            path=str(path),
        )


def _read_ways(path: Path, mode: str, table: Mapping[str, float]) -> dict:
    """Stream the ``highway`` ways of a PBF: node refs, fixed-point coordinates, speeds."""
    import osmium

    # (ref, x, y) per way node as C int64s: 24 bytes a node, not three Python ints
    rxy = array("q")
    counts = array("q")
    fwd = array("d")
    bwd = array("d")
    seen = 0
    try:
        fp = (
            osmium.FileProcessor(osmium.io.File(str(path), "pbf"), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for w in fp:
            if not isinstance(w, osmium.osm.Way):  # pragma: no cover - the filter passes ways
                continue
            seen += 1
            speeds = way_speeds(mode, table, w.tags.get)
            if speeds is None:
                continue
            nodes = w.nodes
            if len(nodes) < 2:
                continue
            rxy.extend([v for n in nodes for v in (n.ref, n.x, n.y)])
            counts.append(len(nodes))
            fwd.append(speeds[0])
            bwd.append(speeds[1])
    except RuntimeError as exc:  # libosmium's I/O and decoding errors
        raise FileFormatError(
            f"cannot read {path.name} as an OSM PBF file (corrupt or truncated?): {exc}",
            path=str(path),
        ) from exc
    table3 = np.frombuffer(rxy, dtype=np.int64).reshape(-1, 3)
    return {
        "refs": table3[:, 0],
        "x": table3[:, 1],
        "y": table3[:, 2],
        "counts": np.frombuffer(counts, dtype=np.int64),
        "fwd": np.frombuffer(fwd, dtype=np.float64),
        "bwd": np.frombuffer(bwd, dtype=np.float64),
        "ways_seen": seen,
    }


@dataclass
class RoadGraph:
    """A directed road graph as arrays.

    Attributes
    ----------
    node_lon, node_lat
        WGS-84 degrees (float64), one per node.
    seconds
        ``scipy.sparse.csr_matrix`` (n × n): ``seconds[u, v]`` is the travel time of the edge
        u → v. Parallel edges keep the fastest; zero-length segments are explicit zeros.
    mode, speeds_kph
        The mode and the speed table the weights were computed with.
    node_id
        OSM node ids (int64), or ``None`` for graphs not read from OSM.
    source
        The ``.pbf`` path, if any. ``stats`` holds counts from the build; ``from_cache`` says
        whether it was loaded from the cache, ``build_seconds`` how long it took.
    """

    node_lon: np.ndarray
    node_lat: np.ndarray
    seconds: csr_matrix
    mode: str
    speeds_kph: dict = field(default_factory=dict)
    node_id: np.ndarray | None = None
    source: str | None = None
    stats: dict = field(default_factory=dict)
    from_cache: bool = False
    cache_path: str | None = None
    build_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._reverse: csr_matrix | None = None
        self._tree: cKDTree | None = None
        self._tree_nodes: np.ndarray | None = None
        self._max_speed_mps: float | None = None
        self._component_size: np.ndarray | None = None
        self._component_label: np.ndarray | None = None
        self._main_trees: dict[int, tuple[cKDTree, np.ndarray]] = {}

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        node_lon,
        node_lat,
        tail,
        head,
        seconds,
        mode: str,
        speeds_kph: Mapping[str, float] | None = None,
        **kwargs,
    ) -> RoadGraph:
        """A graph from node coordinates and directed edges ``tail → head`` of ``seconds``.

        Self-loops are dropped; of parallel edges the fastest is kept.
        """
        if mode not in MODES:
            raise ValidationError(
                f"unknown mode {mode!r}; use one of {', '.join(MODES)}", field="mode"
            )
        lon = np.ascontiguousarray(node_lon, dtype=np.float64)
        lat = np.ascontiguousarray(node_lat, dtype=np.float64)
        n = len(lon)
        tail = np.asarray(tail, dtype=np.int64)
        head = np.asarray(head, dtype=np.int64)
        sec = np.asarray(seconds, dtype=np.float64)
        if not (len(tail) == len(head) == len(sec)) or len(lat) != n:
            raise ValidationError("edge or node arrays differ in length", field="graph")
        if len(tail) and (tail.min() < 0 or head.min() < 0 or max(tail.max(), head.max()) >= n):
            raise ValidationError("edge endpoints must index the nodes", field="graph")
        if len(sec) and not (np.all(np.isfinite(sec)) and sec.min() >= 0):
            raise ValidationError("edge seconds must be finite and ≥ 0", field="graph")
        keep = tail != head
        tail, head, sec = tail[keep], head[keep], sec[keep]
        # fastest of parallel edges: sort by (edge, seconds), keep the first of each edge
        key = tail * n + head
        order = np.lexsort((sec, key))
        key, sec = key[order], sec[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, sec = key[first], sec[first]
        tail, head = key // n, key % n
        # build CSR directly (rows sorted already): keeps explicit zeros, no duplicate summing
        idx_dtype: type[np.signedinteger] = (
            np.int32 if n < 2**31 - 1 and len(sec) < 2**31 - 1 else np.int64
        )
        indptr = np.zeros(n + 1, dtype=idx_dtype)
        np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
        mat = csr_matrix((sec, head.astype(idx_dtype), indptr), shape=(n, n))
        return cls(lon, lat, mat, mode, dict(speeds_kph or {}), **kwargs)

    @classmethod
    def from_pbf(
        cls,
        path,
        mode: str,
        cache_dir=None,
        speeds_kph: Mapping[str, float | None] | None = None,
    ) -> RoadGraph:
        """Read an OSM ``.osm.pbf`` into the graph of roads ``mode`` may use.

        With ``cache_dir`` the graph is saved there as ``.npz`` after the first build and
        loaded from it afterwards (key: file size, mtime, SHA-256 of the first MiB, mode,
        speed table).

        Raises
        ------
        FileFormatError
            Missing file, not a PBF, corrupt or truncated.
        ValidationError
            Unknown mode, bad speed table, or no road in the file that the mode may use.
        """
        t0 = time.perf_counter()
        path = Path(path)
        table = speed_table(mode, speeds_kph)
        _check_pbf(path)
        cache_file = None
        if cache_dir is not None:
            key = _file_key(path, mode, table)
            stem = path.name.split(".")[0]
            cache_file = Path(cache_dir) / f"roadgraph-{stem}-{mode}-{key[:20]}.npz"
            if cache_file.is_file():
                try:
                    g = cls.load(cache_file)
                except (OSError, ValueError, KeyError):
                    g = None  # unreadable cache: rebuild and overwrite
                if g is not None:
                    g.from_cache = True
                    g.source = str(path)
                    g.build_seconds = time.perf_counter() - t0
                    return g
        g = cls._build(path, mode, table)
        g.build_seconds = time.perf_counter() - t0
        if cache_file is not None:
            g.save(cache_file)
        return g

    @classmethod
    def _build(cls, path: Path, mode: str, table: dict) -> RoadGraph:
        w = _read_ways(path, mode, table)
        refs, counts = w["refs"], w["counts"]
        if len(counts) == 0:
            raise ValidationError(
                f"{path.name} has no road that mode {mode!r} may use "
                f"({w['ways_seen']} ways with a highway tag; usable classes: "
                f"{', '.join(table)})",
                field="pbf",
                path=str(path),
            )
        way_of = np.repeat(np.arange(len(counts)), counts)
        a = np.flatnonzero(way_of[:-1] == way_of[1:])  # segment a → a+1 within one way
        b = a + 1
        valid = (w["x"] != _UNDEFINED_COORD) & (w["y"] != _UNDEFINED_COORD)
        ok = valid[a] & valid[b]
        dropped = int((~ok).sum())
        a, b = a[ok], b[ok]
        if len(a) == 0:
            raise ValidationError(
                f"{path.name} has roads for mode {mode!r} but none with node locations "
                "(the extract lacks their nodes)",
                field="pbf",
                path=str(path),
            )
        used = np.concatenate([a, b])
        node_id, first, inv = np.unique(refs[used], return_index=True, return_inverse=True)
        pos = used[first]
        lon = w["x"][pos] / 1e7
        lat = w["y"][pos] / 1e7
        ta, tb = inv[: len(a)], inv[len(a) :]
        length = distance_m(lon[ta], lat[ta], lon[tb], lat[tb])
        fwd, bwd = w["fwd"][way_of[a]], w["bwd"][way_of[a]]
        f, r = fwd > 0, bwd > 0
        tail = np.concatenate([ta[f], tb[r]])
        head = np.concatenate([tb[f], ta[r]])
        sec = np.concatenate([length[f] / (fwd[f] / 3.6), length[r] / (bwd[r] / 3.6)])
        stats = {
            "ways_seen": w["ways_seen"],
            "ways_used": len(counts),
            "segments": len(a),
            "segments_dropped_missing_nodes": dropped,
            "length_km": float(length.sum() / 1000.0),
        }
        return cls.from_arrays(
            lon, lat, tail, head, sec, mode, table, node_id=node_id, source=str(path), stats=stats
        )

    # -- cache ---------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the graph as ``.npz`` (atomically: a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "cache_version": CACHE_VERSION,
            "mode": self.mode,
            "speeds_kph": self.speeds_kph,
            "source": self.source,
            "stats": self.stats,
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.savez(
                f,
                node_lon=self.node_lon,
                node_lat=self.node_lat,
                node_id=self.node_id if self.node_id is not None else np.zeros(0, np.int64),
                indptr=self.seconds.indptr,
                indices=self.seconds.indices,
                data=self.seconds.data,
                meta=np.array(json.dumps(meta)),
            )
        os.replace(tmp, path)
        self.cache_path = str(path)
        return path

    @classmethod
    def load(cls, path) -> RoadGraph:
        """Read a graph written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("cache_version") != CACHE_VERSION:
                raise ValueError("cache written by another version")
            n = len(z["node_lon"])
            mat = csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(n, n))
            node_id = z["node_id"]
            return cls(
                z["node_lon"],
                z["node_lat"],
                mat,
                meta["mode"],
                meta["speeds_kph"],
                node_id=node_id if len(node_id) else None,
                source=meta.get("source"),
                stats=meta.get("stats", {}),
                cache_path=str(path),
            )

    # -- derived -------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return self.seconds.shape[0]

    @property
    def n_edges(self) -> int:
        """Directed edges."""
        return int(self.seconds.nnz)

    @property
    def reverse(self) -> csr_matrix:
        """The transposed graph (``reverse[v, u] = seconds[u, v]``), computed once."""
        if self._reverse is None:
            self._reverse = self.seconds.T.tocsr()
        return self._reverse

    @property
    def max_speed_mps(self) -> float:
        """The fastest edge: its great-circle metres over its seconds (computed once).

        ``inf`` if an edge of positive length takes 0 seconds; 0 for a graph without edges.
        No trip on the graph covers more great-circle metres per second than this.
        """
        if self._max_speed_mps is None:
            m = self.seconds.tocoo()
            length = np.asarray(
                distance_m(
                    self.node_lon[m.row],
                    self.node_lat[m.row],
                    self.node_lon[m.col],
                    self.node_lat[m.col],
                )
            )
            fast = 0.0
            if len(length):
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = np.where(length > 0, length / m.data, 0.0)
                fast = float(np.max(v))
            self._max_speed_mps = fast
        return self._max_speed_mps

    def snap_tree(self) -> tuple[cKDTree, np.ndarray]:
        """KD-tree (unit sphere) over nodes that have an edge, and those nodes' indices."""
        if self._tree is None or self._tree_nodes is None:
            m = self.seconds
            has = (np.diff(m.indptr) > 0) | (np.bincount(m.indices, minlength=m.shape[0]) > 0)
            nodes = np.flatnonzero(has)
            self._tree = cKDTree(lonlat_to_xyz(self.node_lon[nodes], self.node_lat[nodes]))
            self._tree_nodes = nodes
        return self._tree, self._tree_nodes

    @property
    def component_size(self) -> np.ndarray:
        """Per node, the number of nodes of its weakly connected component (computed once)."""
        return self._components()[1]

    def _components(self) -> tuple[np.ndarray, np.ndarray]:
        if self._component_size is None or self._component_label is None:
            _, label = connected_components(self.seconds, directed=True, connection="weak")
            self._component_label = label
            self._component_size = np.bincount(label)[label]
        return self._component_label, self._component_size

    def main_nodes(self, min_component_nodes: int) -> np.ndarray:
        """Mask of nodes on the main network: nodes with an edge in the largest weakly
        connected component or in any component of at least ``min_component_nodes`` nodes."""
        label, size = self._components()
        if len(size) == 0:
            return np.zeros(0, dtype=bool)
        has = np.zeros(self.n_nodes, dtype=bool)
        has[self.snap_tree()[1]] = True
        largest = int(np.argmax(np.where(has, size, 0)))
        return has & ((size >= min_component_nodes) | (label == label[largest]))

    def main_snap_tree(self, min_component_nodes: int) -> tuple[cKDTree, np.ndarray]:
        """Like :meth:`snap_tree` over the main network only (:meth:`main_nodes`)."""
        hit = self._main_trees.get(min_component_nodes)
        if hit is None:
            nodes = np.flatnonzero(self.main_nodes(min_component_nodes))
            hit = (cKDTree(lonlat_to_xyz(self.node_lon[nodes], self.node_lat[nodes])), nodes)
            self._main_trees[min_component_nodes] = hit
        return hit

    def describe(self) -> dict:
        return {
            "mode": self.mode,
            "speeds_kph": dict(self.speeds_kph),
            "pbf": self.source,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            **({"stats": dict(self.stats)} if self.stats else {}),
        }


@dataclass
class NodeTimes:
    """Seconds from every graph node to its nearest station (worker → station).

    ``seconds`` is ``inf`` and ``station`` ``-1`` beyond the limit or where no station can be
    reached; ``station`` indexes the stations given. ``unsnapped_stations`` marks stations
    too far from the network to be used.
    """

    seconds: np.ndarray
    station: np.ndarray
    unsnapped_stations: np.ndarray
    limit_seconds: float


def _as_points(lon, lat, what: str) -> tuple[np.ndarray, np.ndarray]:
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64)).ravel()
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64)).ravel()
    if lon.shape != lat.shape:
        raise ValidationError(
            f"{what} longitudes and latitudes differ in length ({len(lon)} vs {len(lat)})",
            field=what,
        )
    return lon, lat


#: Weakly connected components with fewer nodes than this (other than the largest) are
#: fragments that points do not snap to (see "Snapping" above).
MIN_COMPONENT_NODES = 100


class NetworkModel:
    """Travel time on a :class:`RoadGraph`, snapping points with an off-network walk."""

    name = "network"

    def __init__(
        self,
        graph: RoadGraph,
        max_snap_m: float = 500.0,
        walk_kph: float = 4.5,
        min_component_nodes: int = MIN_COMPONENT_NODES,
    ):
        if not isinstance(graph, RoadGraph):
            raise ValidationError("graph must be a RoadGraph", field="graph")
        if not (max_snap_m > 0 and math.isfinite(max_snap_m)):
            raise ValidationError("max_snap_m must be a positive number", field="max_snap_m")
        if not (walk_kph > 0 and math.isfinite(walk_kph)):
            raise ValidationError("walk_kph must be a positive number", field="walk_kph")
        if isinstance(min_component_nodes, bool) or not (
            isinstance(min_component_nodes, int | np.integer) and min_component_nodes >= 1
        ):
            raise ValidationError(
                "min_component_nodes must be a whole number ≥ 1", field="min_component_nodes"
            )
        self.graph = graph
        self.mode = graph.mode
        self.max_snap_m = float(max_snap_m)
        #: Components with fewer nodes (other than the largest) are fragments: not snapped to.
        self.min_component_nodes = int(min_component_nodes)
        #: Points of the last call whose nearest node lies on a fragment (snapped to the main
        #: network instead, or unsnapped when that is beyond ``max_snap_m``), by kind.
        self.last_fragment_snaps: dict[str, int] = {"demand": 0, "stations": 0}
        self.walk_kph = float(walk_kph)
        #: Stations of the last call that were too far from the network to be used.
        self.last_unsnapped_stations = np.zeros(0, dtype=bool)
        #: Wall seconds of the steps of the last call (snap, search, …).
        self.last_timings: dict[str, float] = {}
        self._snap_cache: dict[tuple, tuple[np.ndarray, np.ndarray, int]] = {}

    def describe(self) -> dict:
        g = self.graph
        return {
            "model": self.name,
            "mode": self.mode,
            "speeds_kph": dict(g.speeds_kph),
            "pbf": g.source,
            "nodes": g.n_nodes,
            "edges": g.n_edges,
            "max_snap_m": self.max_snap_m,
            "min_component_nodes": self.min_component_nodes,
            "walk_kph": self.walk_kph,
            "direction": "worker → station",
            "label": "路网 (OSM road network)",
        }

    #: Demand sets whose snapping is remembered (what-if runs reuse the same demand).
    SNAP_CACHE_SIZE = 4
    #: From this many points on, queries are sorted spatially first (faster KD-tree walks).
    SORT_QUERIES_FROM = 20_000
    #: Snapping asks the tree with every core only from this many points on: below it,
    #: starting the thread pool costs more than the queries (measured on 2 cores against a
    #: 50,000-node tree: 10 points 16 µs with one worker vs 490 µs with ``workers=-1``,
    #: 1,000 points 0.7 vs 1.4 ms, 3,000 points 3.4 vs 2.8 ms).
    PARALLEL_SNAP_FROM = 2048

    def snap(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Nearest graph node and its great-circle metres for each point.

        Points farther than ``max_snap_m`` (or with non-finite coordinates) get node ``-1``
        and distance ``inf``. The last few results are remembered by content (a BLAKE2 hash
        of the coordinates), so repeated calls with the same demand skip the KD-tree.
        """
        node, dist, _ = self._snap_cached(*_as_points(lon, lat, "points"))
        return node.copy(), dist.copy()

    def _snap_cached(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`snap` without the copies: the arrays returned must not be modified."""
        h = hashlib.blake2b(digest_size=16)
        h.update(lon.tobytes())
        h.update(lat.tobytes())
        key = (len(lon), h.hexdigest(), self.max_snap_m, self.min_component_nodes)
        hit = self._snap_cache.pop(key, None)
        if hit is not None:
            self._snap_cache[key] = hit  # most recently used last
            return hit
        found = self._snap(lon, lat)
        if len(self._snap_cache) >= self.SNAP_CACHE_SIZE:
            self._snap_cache.pop(next(iter(self._snap_cache)))
        self._snap_cache[key] = found
        return found

    def _snap(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Nearest main-network node and metres per point, and how many points' nearest
        node (within ``max_snap_m``) lies on a fragment.

        The tree over every node is asked first; only the points that land on a fragment
        are asked again on the main network's tree (few, so snapping costs about the same).
        """
        node, dist = self._nearest(lon, lat, self.graph.snap_tree())
        if len(node) == 0 or self.min_component_nodes <= 1:
            return node, dist, 0
        main = self.graph.main_nodes(self.min_component_nodes)
        off = np.flatnonzero(node >= 0)
        off = off[~main[node[off]]]
        if len(off):
            tree = self.graph.main_snap_tree(self.min_component_nodes)
            node[off], dist[off] = self._nearest(lon[off], lat[off], tree)
        return node, dist, len(off)

    def _nearest(
        self, lon: np.ndarray, lat: np.ndarray, tree_and_nodes: tuple[cKDTree, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(lon)
        node = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        if n == 0 or self.graph.n_nodes == 0:
            return node, dist
        tree, tree_nodes = tree_and_nodes
        if tree.n == 0:
            return node, dist
        finite = np.isfinite(lon) & np.isfinite(lat)
        pts = None if finite.all() else np.flatnonzero(finite)
        plon, plat = (lon, lat) if pts is None else (lon[pts], lat[pts])
        if len(plon) >= self.SORT_QUERIES_FROM:
            # nearby queries one after another walk the same tree nodes: sort by 0.02° cells
            kx = ((plon - plon.min()) * 50.0).astype(np.int64)
            ky = ((plat - plat.min()) * 50.0).astype(np.int64)
            order = np.argsort(ky * (int(kx.max()) + 1) + kx)
            pts = order if pts is None else pts[order]
            plon, plat = plon[order], plat[order]
        chord, pos = tree.query(
            lonlat_to_xyz(plon, plat),
            k=1,
            distance_upper_bound=m_to_chord(self.max_snap_m) * (1 + 1e-12),
            workers=-1 if len(plon) >= self.PARALLEL_SNAP_FROM else 1,
        )
        d = chord_to_m(chord)  # inf chord (nothing within the bound) → clipped, masked below
        ok = np.isfinite(chord) & (d <= self.max_snap_m)
        got_node = np.where(ok, tree_nodes[np.minimum(pos, tree.n - 1)], -1)
        got_dist = np.where(ok, d, np.inf)
        if pts is None:
            return got_node, got_dist
        node[pts] = got_node
        dist[pts] = got_dist
        return node, dist

    def _walk_s(self, metres: np.ndarray) -> np.ndarray:
        return metres / (self.walk_kph / 3.6)

    def reach_m(self, max_minutes: float) -> float:
        """Great-circle metres no trip of at most ``max_minutes`` can exceed.

        The fastest of the walking legs and the graph's fastest edge
        (:attr:`RoadGraph.max_speed_mps`) times the limit: a trip's great-circle displacement
        is at most the sum of its legs' and edges' great-circle lengths.
        """
        speed_mps = max(self.walk_kph / 3.6, self.graph.max_speed_mps)
        return float(max_minutes) * 60.0 * speed_mps

    def time_from_nodes(self, station_lon, station_lat, max_minutes: float) -> NodeTimes:
        """Seconds from every node to its nearest station, within ``max_minutes``.

        One Dijkstra on the reversed graph from a virtual source per snapped station (its
        edge weighted by the station's walking leg), with ``min_only=True`` so scipy returns
        which source (station) reached each node first.
        """
        if not max_minutes > 0:
            raise ValidationError("max_minutes must be > 0", field="max_minutes")
        slon, slat = _as_points(station_lon, station_lat, "stations")
        t0 = time.perf_counter()
        g = self.graph
        n = g.n_nodes
        s_node, s_dist, s_frag = self._snap(slon, slat)  # stations change per call: not cached
        self.last_fragment_snaps = {"demand": 0, "stations": s_frag}
        usable = np.flatnonzero(s_node >= 0)
        self.last_unsnapped_stations = s_node < 0
        t1 = time.perf_counter()
        limit = float(max_minutes) * 60.0
        seconds = np.full(n, np.inf)
        station = np.full(n, -1, dtype=np.int64)
        if len(usable) and n:
            k = len(usable)
            rev = g.reverse
            it: np.dtype[np.signedinteger] = rev.indices.dtype
            if n + k >= np.iinfo(it).max:
                it = np.dtype(np.int64)
            indptr = np.concatenate(
                [rev.indptr.astype(it, copy=False), rev.indptr[-1] + np.arange(1, k + 1, dtype=it)]
            )
            indices = np.concatenate(
                [rev.indices.astype(it, copy=False), s_node[usable].astype(it)]
            )
            data = np.concatenate([rev.data, self._walk_s(s_dist[usable])])
            aug = csr_matrix((data, indices, indptr), shape=(n + k, n + k))
            dist, _pred, src = dijkstra(
                aug,
                directed=True,
                indices=np.arange(n, n + k),
                limit=limit,
                min_only=True,
                return_predecessors=True,
            )
            reached = np.isfinite(dist[:n]) & (src[:n] >= n)
            seconds[reached] = dist[:n][reached]
            station[reached] = usable[src[:n][reached] - n]
        self.last_timings = {
            "snap_stations_s": t1 - t0,
            "dijkstra_s": time.perf_counter() - t1,
        }
        return NodeTimes(seconds, station, self.last_unsnapped_stations.copy(), limit)

    def time_to_nearest(
        self, demand_lon, demand_lat, station_lon, station_lat, max_minutes: float
    ) -> NearestTimes:
        """Minutes from each demand point to its nearest station (worker → station)."""
        if not max_minutes > 0:
            raise ValidationError("max_minutes must be > 0", field="max_minutes")
        dlon, dlat = _as_points(demand_lon, demand_lat, "demand")
        nt = self.time_from_nodes(station_lon, station_lat, max_minutes)
        timings = dict(self.last_timings)
        t0 = time.perf_counter()
        node, dist, d_frag = self._snap_cached(dlon, dlat)
        self.last_fragment_snaps = {**self.last_fragment_snaps, "demand": d_frag}
        unsnapped = node < 0
        # unsnapped points have dist = inf, so their total is inf whatever seconds[-1] is
        if self.graph.n_nodes == 0:
            node_s, node_station = np.full(len(node), np.inf), np.full(len(node), -1)
        else:
            node_s, node_station = nt.seconds[node], nt.station[node]
        minutes = (node_s + self._walk_s(dist)) / 60.0
        minutes[minutes > max_minutes] = np.inf
        station = np.where(np.isfinite(minutes), node_station, -1)
        timings["snap_demand_s"] = time.perf_counter() - t0
        self.last_timings = timings
        return NearestTimes(minutes, station, unsnapped)

    def pair_minutes(
        self, origin_lon, origin_lat, dest_lon, dest_lat, max_minutes: float
    ) -> PairMinutes:
        """Minutes for every demand point (origin) – site (destination) pair within the limit.

        One Dijkstra per destination on the reversed graph (worker → station, the direction
        of :meth:`time_to_nearest`), in blocks of destinations (``PAIR_BLOCK_CELLS``), with
        the same snapping and off-network walking legs, so the minutes of a pair equal what
        :meth:`time_to_nearest` gives for that single station. Unsnapped points have no pair.
        """
        if not max_minutes > 0:
            raise ValidationError("max_minutes must be > 0", field="max_minutes")
        o_lon, o_lat = _as_points(origin_lon, origin_lat, "demand")
        d_lon, d_lat = _as_points(dest_lon, dest_lat, "stations")
        if len(o_lon) == 0 or len(d_lon) == 0 or self.graph.n_nodes == 0:
            return PairMinutes.empty()
        limit = float(max_minutes) * 60.0
        o_node, o_m, o_frag = self._snap_cached(o_lon, o_lat)
        d_node, d_m, d_frag = self._snap(d_lon, d_lat)  # sites change per call: not cached
        self.last_fragment_snaps = {"demand": o_frag, "stations": d_frag}
        o_s, d_s = self._walk_s(o_m), self._walk_s(d_m)
        dem = np.flatnonzero((o_node >= 0) & (o_s <= limit))
        cand = np.flatnonzero((d_node >= 0) & (d_s <= limit))
        if len(dem) == 0 or len(cand) == 0:
            return PairMinutes.empty()
        nodes, inv = np.unique(o_node[dem], return_inverse=True)
        rev = self.graph.reverse
        block = max(1, PAIR_BLOCK_CELLS // max(self.graph.n_nodes, len(dem), 1))
        rows, cols, secs = [], [], []
        for start in range(0, len(cand), block):
            js = cand[start : start + block]
            # seconds from every node to each site's node (reversed graph = worker → station)
            dist = dijkstra(
                rev, directed=True, indices=d_node[js], limit=limit - float(d_s[js].min())
            )
            t = dist[:, nodes][:, inv] + d_s[js][:, None] + o_s[dem][None, :]
            jj, ii = np.nonzero(t <= limit)
            rows.append(dem[ii])
            cols.append(js[jj])
            secs.append(t[jj, ii])
        return PairMinutes(
            np.concatenate(rows).astype(np.int64),
            np.concatenate(cols).astype(np.int64),
            np.concatenate(secs) / 60.0,
        )
