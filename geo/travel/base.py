"""Travel-time models behind one protocol (DESIGN §5).

A model answers three questions for many points at once: how many minutes from each demand
point to the nearest station, and which one (:meth:`~TravelModel.time_to_nearest`, for
coverage); how many minutes for every demand–site pair within a limit
(:meth:`~TravelModel.pair_minutes`, for planning); and how far in great-circle metres anyone
can possibly get within a limit (:meth:`~TravelModel.reach_m`, for halos and pre-filters).
``crowfly`` estimates from great-circle distance; ``network`` routes on an OSM road graph.
Every model can :meth:`~TravelModel.describe` itself, so each coverage figure records the
model, mode, speeds and inputs that produced it. Times are always minutes, worker → station.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from geo.models import MODES

#: Default speeds (km/h) per mode; crow-fly also multiplies distance by a circuity factor.
DEFAULT_SPEEDS_KPH: dict[str, float] = {"walk": 4.5, "ebike": 15.0, "car": 30.0}
assert tuple(DEFAULT_SPEEDS_KPH) == MODES, "a speed for every mode of geo.models"
#: Rural car speed (km/h), used by crow-fly when ``rural=True``.
RURAL_CAR_SPEED_KPH = 50.0
#: Network distance over straight-line distance: 1.3 on flat ground, more in mountains.
DEFAULT_CIRCUITY = 1.3


@dataclass
class NearestTimes:
    """Travel time from each demand point to its nearest station.

    Attributes
    ----------
    minutes
        Minutes to the nearest station; ``inf`` when none is reachable within the limit.
    station
        Index (into the stations given) of that station; ``-1`` where none.
    unsnapped
        Demand points too far from the road network to be routed (network model only;
        all ``False`` for crow-fly). Their ``minutes`` are ``inf``: they are reported, not
        silently placed on a road.
    """

    minutes: np.ndarray
    station: np.ndarray
    unsnapped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass
class PairMinutes:
    """Minutes of every origin–destination pair within a limit (a sparse matrix as arrays).

    Origins are demand points (where workers are), destinations candidate or existing sites
    (stations); minutes are worker → station. Pairs beyond the limit are absent; a pair at
    0 minutes is present. No particular order.

    Attributes
    ----------
    origin
        Index of the origin (into the origins given) per pair, ``int64``.
    destination
        Index of the destination (into the destinations given) per pair, ``int64``.
    minutes
        Travel minutes per pair, ``float64``, each ``≤ max_minutes``.
    """

    origin: np.ndarray
    destination: np.ndarray
    minutes: np.ndarray

    @classmethod
    def empty(cls) -> PairMinutes:
        """No pair at all."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), np.zeros(0))


@runtime_checkable
class TravelModel(Protocol):
    """What every travel model implements."""

    name: str
    mode: str

    def describe(self) -> dict:
        """Model name, mode, speeds and inputs, for the record of a result."""
        ...

    def time_to_nearest(
        self,
        demand_lon: np.ndarray,
        demand_lat: np.ndarray,
        station_lon: np.ndarray,
        station_lat: np.ndarray,
        max_minutes: float,
    ) -> NearestTimes:
        """Minutes from each demand point to its nearest station, up to ``max_minutes``."""
        ...

    def pair_minutes(
        self,
        origin_lon: np.ndarray,
        origin_lat: np.ndarray,
        dest_lon: np.ndarray,
        dest_lat: np.ndarray,
        max_minutes: float,
    ) -> PairMinutes:
        """Minutes for every origin–destination pair within ``max_minutes``.

        Origins are demand points, destinations sites (candidates or stations); the minutes
        of a pair equal what :meth:`time_to_nearest` gives for that origin with that single
        destination.
        """
        ...

    def reach_m(self, max_minutes: float) -> float:
        """Great-circle metres no trip of at most ``max_minutes`` can exceed."""
        ...
