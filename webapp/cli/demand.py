"""Demand-signal verbs of ``yizhan`` (issue 15 item 8): ``demand signals`` exports the public
map's counts of an area (H3 r7 cells) as GeoJSON polygons or a weighted demand-points CSV
(``yizhan plan --demand-points FILE.csv`` takes it); the counting is
:mod:`geo.demand.signals`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from webapp.cli._base import Context, main, pass_ctx


@main.group("demand")
def demand() -> None:
    """Demand from the public map: unserved searches and located points per H3 cell."""


@demand.command("signals")
@click.option("--area", required=True, metavar="CODE", help="6-digit admin code (省/市/县).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day (YYYY-MM-DD, China time); default: every day recorded.",
)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option(
    "--kinds",
    default="unserved",
    show_default=True,
    help="unserved, all, or kinds comma-separated (search_unserved, locate_served, ...).",
)
@click.option("--min-count", type=click.IntRange(1), default=None, help="Suppress below this.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.geojson (cell polygons) or FILE.csv (cell centres, weight = count).",
)
@pass_ctx
def signals_command(
    ctx: Context,
    area: str,
    since,
    until,
    kinds: str,
    min_count: int | None,
    out: Path,
) -> None:
    """Write an area's demand signals; cells with fewer than --min-count (default 3) are left
    out and only counted."""
    from geo.demand import signals
    from geo.errors import YizhanError

    if out.suffix.lower() not in (".geojson", ".json", ".csv"):
        raise click.BadParameter("FILE.geojson or FILE.csv", param_hint="--out")
    chosen = {
        "unserved": signals.UNSERVED_KINDS,
        "all": signals.POINT_KINDS,
    }.get(kinds.strip(), tuple(k.strip() for k in kinds.split(",") if k.strip()))
    first: date | None = since.date() if since else None
    last: date | None = until.date() if until else None
    try:
        cells = signals.signal_cells(
            ctx.ready_repo().engine,
            area.strip(),
            since=first,
            until=last,
            kinds=chosen,
            min_count=signals.MIN_COUNT if min_count is None else min_count,
        )
        signals.write_signals(cells, out)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from exc
    a = cells.attrs
    click.echo(
        f"demand signals: {len(cells)} cells, {int(cells['count'].sum())} counts in {area} -> "
        f"{out} ({a['suppressed_cells']} cells with {a['suppressed_count']} counts below "
        f"{a['min_count']} suppressed)"
    )
