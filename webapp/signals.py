"""The web side of the demand signals (issue 15 item 8): the per-process recorder and the
navigation beacon.

The counting itself is :mod:`geo.demand.signals` (no Flask). Here:

* :func:`init_app` builds one :class:`geo.demand.signals.SignalRecorder` per app (so per
  worker process), switched by ``YIZHAN_DEMAND_SIGNALS``; :func:`recorder` gives it to the
  routes that count (``/api/nearest`` with ``origin=search|locate``, the station page);
* ``POST /signals/navigate/<station_id>``: the station page's ``navigator.sendBeacon`` when a
  navigation link is followed. No cookie, no body, no CSRF token (it changes no data a person
  owns; it only adds 1 to a counter). Abuse is bounded without keeping anything about the
  sender: the id must be a registered station (else 404, nothing counted), and token buckets
  keyed by the *station* (:data:`BEACON_PER_MINUTE`) and for all stations together
  (:data:`BEACON_ALL_PER_MINUTE`) cap what any flood can add (429 beyond); no IP is read or
  stored.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, url_for

from geo.demand.signals import SignalRecorder
from geo.errors import NotFound
from webapp.ratelimit import RateLimiter
from webapp.services import services

bp = Blueprint("signals", __name__, url_prefix="/signals")

#: The key of the recorder in ``app.extensions``.
EXTENSION = "yizhan.signals"
#: Navigation clicks counted per station and minute at most (and the burst).
BEACON_PER_MINUTE = 20
#: ... and for all stations together.
BEACON_ALL_PER_MINUTE = 600


def init_app(app: Flask) -> None:
    """Build the app's recorder and beacon limiters; register ``/signals/…``."""
    svc = services(app)
    engine = svc.repo.engine
    svc.signals = SignalRecorder(engine, enabled=svc.settings.demand_signals)
    app.extensions[EXTENSION] = {
        "recorder": svc.signals,
        "station_limit": RateLimiter(BEACON_PER_MINUTE, name="beacon", engine=engine),
        "all_limit": RateLimiter(BEACON_ALL_PER_MINUTE, name="beacon-all", engine=engine),
    }
    app.register_blueprint(bp)


def recorder(app: Flask | None = None) -> SignalRecorder:
    """The app's :class:`~geo.demand.signals.SignalRecorder`."""
    return (app or current_app).extensions[EXTENSION]["recorder"]


def close(app: Flask) -> None:
    """Write what is left and stop the writer thread (tests; also at process exit)."""
    ext = app.extensions.get(EXTENSION)
    if ext is not None:
        ext["recorder"].close()


def beacon_url(station_id: str) -> str:
    """The station page's beacon URL; empty when the signals are off."""
    if not recorder().enabled:
        return ""
    return url_for("signals.navigate", station_id=station_id)


@bp.post("/navigate/<station_id>")
def navigate(station_id: str):
    """Count one navigation click of a registered station (204; 404 unknown; 429 flood)."""
    rec = recorder()
    if not rec.enabled:
        return Response(status=204)
    ext = current_app.extensions[EXTENSION]
    ext["all_limit"].check("all")
    s = services().repo.get(station_id[:64]) if len(station_id) <= 64 else None
    if s is None:
        raise NotFound("no such station", id=station_id[:64])
    ext["station_limit"].check(s.id)
    rec.record_station(s.id, "navigate")
    return Response(status=204)
