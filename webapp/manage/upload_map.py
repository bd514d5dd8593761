"""The upload preview's map (issue 15 item 3, wave 3): the previewed rows as markers.

Owns the map configuration of ``/manage/upload/<token>``: one marker per row that has a
position, by class (new, changed — with its position before when the row moves it —,
unchanged, rejected, outside the user's areas), at most :data:`MAX_MARKERS` of them, and per
class how many rows the table lists, how many have a position and how many are drawn. The
page's script (``static/js/manage/upload.js``) reads it from a JSON element; names travel as
data and are put into the page as text, never as markup.
"""

from __future__ import annotations

from typing import Any

from geo.records import preview as previews
from webapp import auth

#: At most this many markers are drawn (the rest are counted and said).
MAX_MARKERS = 5000
#: Which classes are drawn first when an upload has more rows than markers.
DRAW_ORDER = ("changed", "new", "outside", "rejected", "unchanged")
_TEXTS = ("before", "after", "show_row")


def _before(row: previews.PreviewRow) -> list[float] | None:
    """A changed row's position before the upload, when the upload moves it."""
    if row.kind != "changed" or not ({"lon", "lat"} & set(row.changes)):
        return None
    lon = row.changes["lon"][0] if "lon" in row.changes else row.lon
    lat = row.changes["lat"][0] if "lat" in row.changes else row.lat
    if lon is None or lat is None:
        return None
    return [float(lon), float(lat)]


def map_config(
    by_class: dict[str, list[previews.PreviewRow]],
    table_counts: dict[str, int],
    limit: int | None = None,
) -> dict[str, Any]:
    """The map's configuration for the preview rows ``by_class`` (class -> rows in the
    order of the page's tables; a marker's ``i`` is its row's index there).

    ``table_counts`` are the counts the page shows per class
    (:attr:`geo.records.preview.UploadPreview.counts`; rejected rows count by line, so a
    rejected line is one marker however many issues it has). Per class the answer says
    ``rows`` (the page's count), ``drawn`` (markers) and ``missing`` (rows without a
    position); ``notDrawn`` counts rows with a position left off beyond ``limit``
    (:data:`MAX_MARKERS` by default).
    """
    limit = MAX_MARKERS if limit is None else int(limit)
    from webapp.manage.stations import _map_base  # the station form's basemap, not a copy

    points: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    for kind in DRAW_ORDER:
        rows = by_class.get(kind) or []
        located = drawn = 0
        lines: set[int] = set()
        for i, row in enumerate(rows):
            if row.lon is None or row.lat is None:
                continue
            if kind == "rejected" and row.line is not None:
                if row.line in lines:
                    continue
                lines.add(row.line)
            located += 1
            if len(points) >= limit:
                continue
            drawn += 1
            points.append(
                {
                    "k": kind,
                    "i": i,
                    "lon": float(row.lon),
                    "lat": float(row.lat),
                    "before": _before(row),
                    "name": row.name or "",
                    "id": row.id or "",
                    "line": row.line,
                }
            )
        shown = int(table_counts.get(kind, len(rows)))
        counts[kind] = {
            "rows": shown,
            "drawn": drawn,
            "missing": max(shown - located, 0),
            "left_off": located - drawn,
        }
    not_drawn = sum(c["left_off"] for c in counts.values())
    config = {
        "points": points,
        "limit": limit,
        "counts": counts,
        "notDrawn": not_drawn,
        "classes": {k: auth.text(f"manage.upload.class.{k}") for k in previews.CLASSES},
        "text": {k: auth.text(f"manage.maps.{k}") for k in _TEXTS},
        "lineText": auth.text("manage.maps.line", n="{n}"),
    }
    config.update(_map_base())
    return config
