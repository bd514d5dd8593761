"""The web app's services: one typed object instead of string-keyed ``app.extensions``.

``create_app`` builds a :class:`Services` (settings, repository, live index, geocoder, rate
limiters, the embed allow-list, the planner's job runner) and keeps it at
``app.extensions["yizhan"]``; routes reach it with :func:`services`.

Every part that keeps state which must be the same in every server process (the rate
limiters' token buckets, the planner's job queue) is handed the app's database when it is
attached here (:meth:`Services.__setattr__`), so ``yizhan serve --workers N`` shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from webapp.ratelimit import RateLimiter
from webapp.settings import WebSettings

if TYPE_CHECKING:  # pragma: no cover - types only
    from geo.geocode import GeocoderChain
    from geo.index import LiveIndex
    from geo.store import StationRepository
    from webapp.jobs import JobRunner

#: The key of :class:`Services` in ``app.extensions``.
EXTENSION = "yizhan"


@dataclass
class Services:
    """What the routes need, built once per app by :func:`webapp.create_app`."""

    settings: WebSettings
    repo: StationRepository
    index: LiveIndex
    geocoder: GeocoderChain
    geocode_limiter: RateLimiter
    #: ``YIZHAN_EMBED_ORIGINS`` validated (:func:`webapp.embed.parse_origins`).
    embed_origins: tuple[str, ...] = ()
    #: The planner's background jobs and login limiter (:func:`webapp.planner.init_app`).
    jobs: JobRunner | None = None
    login_limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        # YIZHAN_INDEX_MAX_STATIONS: above it the index leaves nearest and bbox to the database.
        self.index.max_stations = self.settings.index_max_stations

    def __setattr__(self, name: str, value: object) -> None:
        """Attach a part; a limiter or the job runner gets the app's database (shared)."""
        super().__setattr__(name, value)
        if name in _SHARED and value is not None and "repo" in self.__dict__:
            value.share(self.repo.engine, _SHARED[name])  # type: ignore[attr-defined]
        elif name == "repo":  # parts attached before the repository (dataclass order)
            for part in _SHARED:
                if self.__dict__.get(part) is not None:
                    self.__dict__[part].share(value.engine, _SHARED[part])  # type: ignore[attr-defined]


#: The parts whose state lives in the database, and the name each shares it under.
_SHARED = {"geocode_limiter": "geocode", "login_limiter": "login", "jobs": "jobs"}


def services(app: Flask | None = None) -> Services:
    """The :class:`Services` of ``app`` (default: the current app, in an app context)."""
    return (app or current_app).extensions[EXTENSION]
