"""The web app's services: one typed object instead of string-keyed ``app.extensions``.

``create_app`` builds a :class:`Services` (settings, repository, live index, geocoder, rate
limiters, the embed allow-list, the planner's job runner) and keeps it at
``app.extensions["yizhan"]``; routes reach it with :func:`services`.

Every part that keeps state which must be the same in every server process (the rate
limiters' token buckets, the planner's job queue) is built with the app's database engine, so
``yizhan serve --workers N`` shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from webapp.ratelimit import RateLimiter
from webapp.settings import WebSettings

if TYPE_CHECKING:  # pragma: no cover - types only
    from geo.demand.signals import SignalRecorder
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
    #: Demand signals' recorder (issue 15 item 8, :func:`webapp.signals.init_app`).
    signals: SignalRecorder | None = None

    def close(self) -> None:
        """Stop the threads the app started, then close its database connections.

        The job runner's supervisor and the index's background build each hold a pooled
        connection while they run; ``engine.dispose()`` closes only the connections checked
        in, so the threads end first (else a connection comes back to the discarded pool,
        open, and is found by the garbage collector). For tests and embedding programs.
        """
        if self.jobs is not None:
            self.jobs.shutdown(timeout_s=2)
        self.index.close()
        if self.signals is not None:
            self.signals.close()  # writes its last counts before the engine goes
        self.repo.engine.dispose()


def services(app: Flask | None = None) -> Services:
    """The :class:`Services` of ``app`` (default: the current app, in an app context)."""
    return (app or current_app).extensions[EXTENSION]
