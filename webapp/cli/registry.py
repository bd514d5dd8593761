"""Registry verbs of ``yizhan``: import, export, demo, nearest, geocode, reverse, review."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geo.errors import ImportRefused, YizhanError
from webapp.cli._base import DEMO_REGISTRY, Context, cli_actor, main, pass_ctx


def _print_issues(report, limit: int = 20) -> None:
    for issue in report.rejected[:limit]:
        click.echo(
            f"  rejected line {issue.line} [{issue.field}]: {issue.reason}"
            + (f" ({issue.value})" if issue.value else ""),
            err=True,
        )
    if len(report.rejected) > limit:
        click.echo(f"  … {len(report.rejected) - limit} more; see --report", err=True)
    for issue in report.warnings[:limit]:
        click.echo(f"  warning line {issue.line} [{issue.field}]: {issue.reason}", err=True)
    if len(report.warnings) > limit:
        click.echo(f"  … {len(report.warnings) - limit} more warnings; see --report", err=True)


def _run_import(
    ctx: Context,
    path: Path,
    strict: bool,
    fmt,
    crs,
    sheet,
    fix_swapped,
    report_path: Path | None,
    geocode: bool = True,
    actor: str | None = None,
    reason: str = "",
) -> int:
    from geo.gazetteer import default_gazetteer
    from geo.geocode import build_geocoder
    from geo.records import import_registry
    from geo.tables import set_table_limits
    from webapp.settings import WebSettings

    set_table_limits(WebSettings.from_env().table_limits())  # YIZHAN_TABLE_MAX_ROWS …
    repo = ctx.ready_repo()
    try:
        report = import_registry(
            repo,
            path,
            strict=strict,
            fmt=fmt,
            crs=crs or ctx.settings.default_crs,
            sheet=sheet,
            fix_swapped=fix_swapped,
            duplicate_radius_m=ctx.settings.duplicate_radius_m,
            geocoder=build_geocoder(ctx.settings) if geocode else None,
            gazetteer=default_gazetteer(),
            actor=actor or cli_actor(),
            source="cli",
            reason=reason,
        )
    except ImportRefused as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            _print_issues(report)
            _write_report(report, report_path)
        click.echo(f"import refused: {exc.message}", err=True)
        return 2
    click.echo(report.summary())
    _print_issues(report)
    _write_report(report, report_path)
    return 1 if report.rejected else 0


def _write_report(report, path: Path | None) -> None:
    if path:
        path.write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )


@main.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--strict", is_flag=True, help="Import nothing if any row is rejected (exit status 2)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "geojson", "gpkg"]),
    help="File format (default: from the extension).",
)
@click.option(
    "--crs",
    type=str,
    metavar="SYSTEM",
    help="Coordinate system of rows without a 坐标系 value: wgs84 (also CGCS2000), "
    "gcj02 (Amap/Tencent) or bd09 (Baidu). Default: YIZHAN_DEFAULT_CRS.",
)
@click.option("--sheet", help="Excel sheet name (default: the first sheet).")
@click.option(
    "--no-fix-swapped",
    "fix_swapped",
    flag_value=False,
    default=True,
    help="Reject rows whose latitude/longitude look swapped instead of fixing them.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the row-level report (imported, updated, rejected, warnings) as JSON.",
)
@click.option(
    "--no-geocode",
    "geocode",
    flag_value=False,
    default=True,
    help="Reject rows without coordinates instead of geocoding their address.",
)
@click.option("--actor", help="Who imports, for the history (default: cli:<os user>).")
@click.option("--reason", default="", help="Why, for the history (e.g. 2026 annual update).")
@pass_ctx
def import_cmd(
    ctx: Context,
    path: Path,
    strict: bool,
    fmt,
    crs,
    sheet,
    fix_swapped,
    report_path,
    geocode,
    actor,
    reason,
) -> None:
    """Validate a station registry (CSV, XLSX, GeoJSON, GeoPackage) and store it.

    Valid rows are committed in one transaction and the rest reported (exit status 1 when
    anything was rejected); with --strict nothing is committed if any row is rejected (exit
    status 2). A file that cannot be read at all (empty, damaged, over the size limits) is
    refused with one line and exit status 2. Re-importing a file updates stations, never
    duplicates them. Rows without coordinates are geocoded from their address
    (YIZHAN_GEOCODERS); missing admin codes are filled from the coordinates, and a stated
    county they contradict is warned.
    """
    try:
        sys.exit(
            _run_import(
                ctx, path, strict, fmt, crs, sheet, fix_swapped, report_path, geocode, actor, reason
            )
        )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None


@main.command()
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the import report as JSON.",
)
@pass_ctx
def demo(ctx: Context, report_path) -> None:
    """Load the bundled illustrative demo registry (positions approximate)."""
    code = _run_import(ctx, DEMO_REGISTRY, False, None, None, None, True, report_path)
    click.echo("demo registry loaded (illustrative data, positions approximate)")
    sys.exit(code)


@main.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "geojson", "gpkg"]),
    help="Output format (default: from the extension of --out).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file.",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="CSV/XLSX headers and labels: English field names or Chinese (名称, 类型 …).",
)
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable).")
@click.option("--county", help="Only this county (code or name).")
@pass_ctx
def export_cmd(ctx: Context, fmt, out: Path, lang: str, kinds, county) -> None:
    """Export stations (WGS-84) to CSV, XLSX, GeoJSON or GeoPackage."""
    from geo.models import parse_kind
    from geo.records import export_stations
    from geo.store import StationQuery

    try:
        q = StationQuery(kinds=tuple(parse_kind(k) for k in kinds), county=county)
        stations, _ = ctx.ready_repo().query(q)
        export_stations(stations, out, fmt, lang)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"exported {len(stations)} stations to {out}")


@main.command()
@click.option("--lon", type=float, required=True, help="Longitude (WGS-84).")
@click.option("--lat", type=float, required=True, help="Latitude (WGS-84).")
@click.option("-k", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable).")
@click.option("--service", "services", multiple=True, help="Require these services.")
@click.option("--open-now", is_flag=True, help="Only stations open now (China time).")
@pass_ctx
def nearest(ctx: Context, lon, lat, k, kinds, services, open_now) -> None:
    """Print the k nearest open stations to a point as JSON lines."""
    from datetime import UTC, datetime

    from geo.index import Filter, StationIndex
    from geo.models import parse_kind, parse_service

    try:
        f = Filter.of(
            [parse_kind(x) for x in kinds],
            [parse_service(x) for x in services],
            open_at=datetime.now(UTC) if open_now else None,
        )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    index = StationIndex(ctx.ready_repo().all())
    for hit in index.nearest(lon, lat, k, f):
        s = hit.station
        click.echo(
            json.dumps(
                {
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind,
                    "distance_m": round(hit.distance_m, 1),
                    "lon": s.lon,
                    "lat": s.lat,
                },
                ensure_ascii=False,
            )
        )


@main.command()
@click.argument("address", required=False)
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Geocode every row of a CSV/XLSX file instead of one ADDRESS.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file (.csv or .xlsx) for --input: every input column kept, plus "
    "lon, lat, precision, admin codes, provider, status and reason.",
)
@click.option(
    "--column",
    help="Address column of --input (default: found by name: "
    "address, 地址, 详细地址 …; else built from 省/市/县区/乡镇/村 columns).",
)
@click.option("--city", help="City or county that narrows the search.")
@click.option(
    "--providers",
    help="Providers to use, overriding YIZHAN_GEOCODERS (e.g. offline or amap,offline).",
)
@pass_ctx
def geocode(ctx: Context, address, input_path, out, column, city, providers) -> None:
    """Geocode one address (prints JSON) or a whole file (--input/--out)."""
    from geo.errors import GeocodeNotFound, ProviderError
    from geo.geocode import build_geocoder

    try:
        geocoder = build_geocoder(ctx.settings, providers)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    if input_path is None:
        if not address:
            raise click.UsageError("give an ADDRESS or --input FILE")
        try:
            result = geocoder.geocode(address, city)
        except (GeocodeNotFound, ProviderError) as exc:
            click.echo(
                json.dumps(
                    {"status": "not_found", "query": address, "reason": exc.message},
                    ensure_ascii=False,
                )
            )
            sys.exit(1)
        click.echo(json.dumps({"status": "ok", **result.to_dict()}, ensure_ascii=False))
        return
    if out is None:
        raise click.UsageError("--input needs --out")
    from geo.geocode.batch import geocode_file

    try:
        summary = geocode_file(
            geocoder, input_path, out, column=column, city=city, progress=_progress_bar
        )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"geocoded {summary['rows']} rows into {out}")
    for precision, n in summary["by_precision"].items():
        click.echo(f"  {precision:<12} {n:>7}")
    sys.exit(1 if summary["by_precision"].get("failed") else 0)


def _progress_bar(total: int):
    return click.progressbar(length=total, label="geocoding", file=sys.stderr)


@main.command()
@click.option("--lon", type=float, required=True, help="Longitude (WGS-84).")
@click.option("--lat", type=float, required=True, help="Latitude (WGS-84).")
def reverse(lon: float, lat: float) -> None:
    """Admin units of a point: county from the outlines, nearest township (approximate)."""
    from geo.gazetteer import default_gazetteer

    result = default_gazetteer().reverse(lon, lat)
    if result is None:
        click.echo(
            json.dumps(
                {"status": "not_found", "reason": "outside the bundled outlines"},
                ensure_ascii=False,
            )
        )
        sys.exit(1)
    click.echo(
        json.dumps(
            {
                "status": "ok",
                "codes": result.codes(),
                "names": result.names(),
                "township_approximate": True,
                "township_distance_m": result.township_distance_m,
            },
            ensure_ascii=False,
        )
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def review(ctx: Context, as_json: bool) -> None:
    """List stations to review: imprecise positions, coordinates outside the stated county."""
    from geo.gazetteer import default_gazetteer
    from geo.review import review_stations

    items = review_stations(ctx.ready_repo().all(), default_gazetteer())
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in items], ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"{item.id}\t{item.name}\t{'; '.join(item.reasons)}")
    click.echo(f"{len(items)} stations to review", err=True)
