"""The crow-fly model: ``t = great-circle distance × circuity ÷ speed``.

The embedded default when no road network is given. It is an estimate: every figure it
produces is labelled "crow-fly" (直线估算) with its speed and circuity.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from geo.errors import ValidationError
from geo.index import chord_to_m, lonlat_to_xyz, m_to_chord
from geo.travel.base import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEEDS_KPH,
    RURAL_CAR_SPEED_KPH,
    NearestTimes,
    PairMinutes,
)


class CrowflyModel:
    """Straight-line travel time at a mode's speed, with a circuity factor."""

    name = "crowfly"

    def __init__(
        self,
        mode: str = "walk",
        speed_kph: float | None = None,
        circuity: float = DEFAULT_CIRCUITY,
        rural: bool = False,
    ) -> None:
        if mode not in DEFAULT_SPEEDS_KPH:
            raise ValidationError(
                f"unknown mode {mode!r}; use one of {', '.join(DEFAULT_SPEEDS_KPH)}", field="mode"
            )
        if speed_kph is None:
            speed_kph = (
                RURAL_CAR_SPEED_KPH if (mode == "car" and rural) else DEFAULT_SPEEDS_KPH[mode]
            )
        if not speed_kph > 0:
            raise ValidationError("speed_kph must be > 0", field="speed_kph")
        if not circuity >= 1:
            raise ValidationError("circuity must be ≥ 1", field="circuity")
        self.mode = mode
        self.speed_kph = float(speed_kph)
        self.circuity = float(circuity)

    def describe(self) -> dict:
        return {
            "model": self.name,
            "mode": self.mode,
            "speed_kph": self.speed_kph,
            "circuity": self.circuity,
            "label": "直线估算 (crow-fly estimate)",
        }

    def minutes_for(self, distance_m):
        """Minutes for great-circle metres (vectorised)."""
        return np.asarray(distance_m) * self.circuity / (self.speed_kph * 1000.0 / 60.0)

    def reach_m(self, max_minutes: float) -> float:
        """Great-circle metres reachable in ``max_minutes``."""
        return max_minutes * self.speed_kph * 1000.0 / 60.0 / self.circuity

    def time_to_nearest(
        self, demand_lon, demand_lat, station_lon, station_lat, max_minutes: float
    ) -> NearestTimes:
        if not max_minutes > 0:
            raise ValidationError("max_minutes must be > 0", field="max_minutes")
        n = len(np.atleast_1d(demand_lon))
        minutes = np.full(n, np.inf)
        station = np.full(n, -1, dtype=np.int64)
        if len(np.atleast_1d(station_lon)) == 0 or n == 0:
            return NearestTimes(minutes, station, np.zeros(n, dtype=bool))
        tree = cKDTree(lonlat_to_xyz(station_lon, station_lat).reshape(-1, 3))
        chord, idx = tree.query(
            lonlat_to_xyz(demand_lon, demand_lat).reshape(-1, 3),
            k=1,
            distance_upper_bound=m_to_chord(self.reach_m(max_minutes) * 1.0000001),
            workers=-1,
        )
        chord, idx = np.asarray(chord), np.asarray(idx)  # (n,) arrays for 2-D input
        found = np.isfinite(chord)
        minutes[found] = self.minutes_for(chord_to_m(chord[found]))
        station[found] = idx[found]
        return NearestTimes(minutes, station, np.zeros(n, dtype=bool))

    def pair_minutes(
        self, origin_lon, origin_lat, dest_lon, dest_lat, max_minutes: float
    ) -> PairMinutes:
        """Minutes for every origin–destination pair within ``max_minutes``.

        Two KD-trees on the unit sphere and their sparse distance matrix within the chord of
        :meth:`reach_m` (vectorised, no per-point Python loop; pairs at distance 0 are kept).
        """
        if not max_minutes > 0:
            raise ValidationError("max_minutes must be > 0", field="max_minutes")
        o_xyz = lonlat_to_xyz(origin_lon, origin_lat).reshape(-1, 3)
        d_xyz = lonlat_to_xyz(dest_lon, dest_lat).reshape(-1, 3)
        if len(o_xyz) == 0 or len(d_xyz) == 0:
            return PairMinutes.empty()
        radius = m_to_chord(float(self.reach_m(max_minutes)) * 1.0000001)
        dist = cKDTree(o_xyz).sparse_distance_matrix(
            cKDTree(d_xyz), radius, output_type="coo_matrix"
        )
        mins = np.asarray(self.minutes_for(chord_to_m(dist.data)), dtype=np.float64)
        return PairMinutes(dist.row.astype(np.int64), dist.col.astype(np.int64), mins)
