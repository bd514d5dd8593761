"""Station views and navigation clicks on the workspace dashboard (issue 15 item 8).

The counts are :func:`geo.demand.signals.station_counts` (per station and day, no personal
data). ``GET /manage/signals`` lists the user's stations with the most station-page views and
navigation clicks over the last :data:`DAYS` days (JSON twin); the dashboard shows the same
table through ``manage/signals_dashboard.html`` (one include line in ``manage/index.html``),
filled by the template global ``station_signal_rows()``.
"""

from __future__ import annotations

from flask import g

from geo import access
from geo.demand import signals
from webapp.manage import bp, render, requires
from webapp.services import services

#: The period the dashboard sums (days up to today, China time).
DAYS = 30
#: Rows shown on the dashboard.
TOP = 20


def station_signal_rows(limit: int = TOP) -> dict:
    """``enabled``, ``days`` and ``rows`` (station id, name, county, views, navigations) of
    the current user's areas, most viewed first."""
    svc = services()
    enabled = bool(svc.settings.demand_signals)
    since = signals.days_before(DAYS - 1)
    counts = signals.station_counts(svc.repo.engine, since=since)
    counts = counts.assign(total=counts["view"] + counts["navigate"]).sort_values(
        ["total", "station_id"], ascending=[False, True]
    )
    areas = list(getattr(g, "user", None).areas if getattr(g, "user", None) else [])
    rows = []
    for r in counts.itertuples(index=False):
        s = svc.repo.get(r.station_id)
        if s is None or (areas and not any(access.covers(a, s) for a in areas)):
            continue
        rows.append(
            {
                "station_id": s.id,
                "name": s.name,
                "county": s.county or s.county_code or "",
                "view": int(r.view),
                "navigate": int(r.navigate),
            }
        )
        if len(rows) >= limit:
            break
    return {"enabled": enabled, "days": DAYS, "since": since.isoformat(), "rows": rows}


@bp.app_context_processor
def _signal_globals():
    return {"station_signal_rows": station_signal_rows}


@bp.get("/signals")
@requires("view_manage")
def station_signals():
    """The user's most viewed and navigated stations of the last :data:`DAYS` days."""
    data = station_signal_rows(limit=200)
    return render("manage/signals.html", data, sig=data)
