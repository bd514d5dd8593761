"""The ``yizhan`` command line: a thin shell over :mod:`geo` (and :mod:`webapp` for ``serve``).

Every verb documents itself (``yizhan --help``, ``yizhan VERB --help``). The database is the
SQLite file in the instance folder unless ``--database`` or ``YIZHAN_DATABASE_URL`` says
otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from geo.errors import ImportRefused, YizhanError
from geo.settings import DATA_DIR, Settings

DEMO_REGISTRY = DATA_DIR / "demo" / "stations.csv"


class Context:
    def __init__(self, database: str | None) -> None:
        overrides = {"database_url": database} if database else {}
        self.settings = Settings.from_env(**overrides)
        self.settings.register_taxonomy()
        self._repo = None

    @property
    def repo(self):
        from geo.store import StationRepository

        if self._repo is None:
            self._repo = StationRepository.from_url(self.settings.database)
        return self._repo

    def ready_repo(self):
        """The repository, after making sure the schema exists (first run creates it)."""
        self.repo.init_schema()
        return self.repo


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database",
    envvar="YIZHAN_DATABASE_URL",
    metavar="URL",
    help="SQLAlchemy database URL (default: SQLite in the instance folder).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.pass_context
def main(ctx: click.Context, database: str | None, verbose: bool) -> None:
    """Yizhan 驿站: union service-station registry, locator and planner."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(database)


@main.command("init-db")
@pass_ctx
def init_db(ctx: Context) -> None:
    """Create the database schema, or upgrade it to the newest version."""
    revision = ctx.repo.init_schema()
    click.echo(f"database ready at schema {revision}: {_safe_url(ctx.settings.database)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


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
) -> int:
    from geo.gazetteer import default_gazetteer
    from geo.geocode import build_geocoder
    from geo.records import import_registry

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
@pass_ctx
def import_cmd(
    ctx: Context, path: Path, strict: bool, fmt, crs, sheet, fix_swapped, report_path, geocode
) -> None:
    """Validate a station registry (CSV, XLSX, GeoJSON, GeoPackage) and store it.

    Valid rows are committed in one transaction and the rest reported (exit status 1 when
    anything was rejected); with --strict nothing is committed if any row is rejected (exit
    status 2). Re-importing a file updates stations, never duplicates them. Rows without
    coordinates are geocoded from their address (YIZHAN_GEOCODERS); missing admin codes are
    filled from the coordinates, and a stated county they contradict is warned.
    """
    try:
        sys.exit(_run_import(ctx, path, strict, fmt, crs, sheet, fix_swapped, report_path, geocode))
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
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=None, help="Port (default: $PORT, else 5000).")
@click.option(
    "--threads",
    type=int,
    default=8,
    show_default=True,
    help="Worker threads of the WSGI server (waitress).",
)
@click.option("--debug", is_flag=True, help="Flask's development server with reloader.")
@pass_ctx
def serve(ctx: Context, host: str, port: int | None, threads: int, debug: bool) -> None:
    """Serve the locator map and the API (production WSGI server: waitress)."""
    from webapp import create_app

    port = port or int(os.environ.get("PORT") or 5000)
    ctx.ready_repo()
    app = create_app({"DATABASE_URL": ctx.settings.database})
    app.extensions["yizhan"]["index"].get()  # build the station index before the first visitor
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"Yizhan serving on http://{shown}:{port}/  (Ctrl+C to stop)", err=False)
    sys.stdout.flush()
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads, ident="yizhan")


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


def demand_options(f):
    """The demand, model and region options shared by ``coverage`` and ``plan``."""
    options = [
        click.option(
            "--mode",
            type=click.Choice(["walk", "ebike", "car"]),
            default="car",
            show_default=True,
            help="Travel mode.",
        ),
        click.option("--speed-kph", type=float, help="Crow-fly speed (default per mode)."),
        click.option(
            "--circuity",
            type=float,
            default=1.3,
            show_default=True,
            help="Crow-fly circuity factor (higher in mountains).",
        ),
        click.option(
            "--population",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Population GeoTIFF (e.g. WorldPop) summed into cells.",
        ),
        click.option(
            "--population-table",
            type=click.Path(path_type=Path, dir_okay=False),
            help="CSV/XLSX of admin code → population, spread over each unit's cells.",
        ),
        click.option(
            "--demand-points",
            type=click.Path(path_type=Path, dir_okay=False),
            help="CSV/GeoJSON of weighted points (factories, parks, seats).",
        ),
        click.option(
            "--resolution",
            type=click.IntRange(5, 10),
            default=8,
            show_default=True,
            help="H3 resolution of demand cells (8 ≈ 0.74 km²).",
        ),
        click.option(
            "--region",
            required=True,
            metavar="ADCODE",
            help="Province, prefecture or county code (e.g. 450200 for Liuzhou).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@main.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    required=True,
    help="Station kind(s) to reach (code or Chinese name; repeatable).",
)
@click.option(
    "--max-minutes",
    "max_minutes",
    type=float,
    multiple=True,
    default=(60.0,),
    show_default=True,
    help="Threshold in minutes (repeatable: 15, 30, 60 …).",
)
@click.option(
    "--network",
    "network",
    type=click.Path(path_type=Path, dir_okay=False),
    help="OSM .osm.pbf for the road-network model (default: crow-fly estimate).",
)
@demand_options
@click.option(
    "--by",
    "by",
    type=click.Choice(["county", "township"]),
    multiple=True,
    help="Tables to write (default: both).",
)
@click.option("--partitioned", is_flag=True, help="Run on Dask, one partition per county.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder.",
)
@pass_ctx
def coverage(
    ctx: Context,
    kinds,
    max_minutes,
    mode,
    network,
    speed_kph,
    circuity,
    population,
    population_table,
    demand_points,
    resolution,
    by,
    region,
    partitioned,
    out,
) -> None:
    """The service circle: share of demand within reach of a station, tables, gaps, map.

    Without population input, demand is one unit per township seat of the region ("share
    of townships whose seat is within an hour"). Writes summary.json, by_county.csv,
    by_township.csv, coverage.xlsx, gaps.geojson, service_areas.geojson, cells.gpkg and
    map.html to --out.
    """
    from geo.coverage import compute_coverage, compute_coverage_partitioned
    from geo.models import parse_kind
    from geo.planning import build_demand, build_model

    try:
        kind_codes = [parse_kind(k) for k in kinds]
        with _step("demand"):
            demand = build_demand(region, population, population_table, demand_points, resolution)
        with _step("travel model"):
            graphs = Path(ctx.settings.instance_path) / "graphs"
            model = build_model(mode, network, speed_kph, circuity, cache_dir=graphs)
        stations = ctx.ready_repo().all()
        with _step("travel times"):
            if partitioned:
                client = None
                if ctx.settings.dask_scheduler:
                    from dask.distributed import Client

                    client = Client(ctx.settings.dask_scheduler)
                result = compute_coverage_partitioned(
                    stations,
                    demand,
                    model,
                    list(max_minutes),
                    kinds=kind_codes,
                    region=region,
                    client=client,
                )
            else:
                result = compute_coverage(
                    stations, demand, model, list(max_minutes), kinds=kind_codes, region=region
                )
        with _step("exports"):
            result.export(out, by=by or ("county", "township"))
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    summary = result.summary()
    click.echo(
        f"model: {summary['model'].get('label', summary['model']['model'])}, "
        f"mode {mode}; demand: {summary['demand_source']} ({summary['demand_unit']})"
    )
    for t in summary["thresholds"]:
        share = "—" if t["share"] is None else f"{t['share']:.1%}"
        click.echo(
            f"  ≤ {t['max_minutes']:g} min: {t['covered']:,.0f} of {t['demand']:,.0f} "
            f"covered ({share})"
        )
    table = result.by_admin("county")
    for row in table.itertuples(index=False):
        share = "—" if row.share is None else f"{row.share:.1%}"
        click.echo(f"  {row.code} {row.name:<10} {share:>7}  nearest: {row.nearest_station}")
    for warning in summary["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {out}")


@main.command()
@click.option("--kind", "kind", required=True, help="Kind of the new stations (and existing).")
@click.option("--add", "add", type=int, help="Best K new sites (maximal covering).")
@click.option("--target-share", type=float, help="Fewest sites to cover this share (0–1].")
@click.option(
    "--budget",
    type=float,
    help="Best sites within this budget (yuan, one-off cost plus --years of yearly cost).",
)
@click.option(
    "--years",
    type=float,
    default=0.0,
    show_default=True,
    help="Years of yearly cost counted against --budget.",
)
@click.option(
    "--candidates",
    "candidates_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV/XLSX/GeoJSON of candidate sites (default: the township positions of the region).",
)
@click.option(
    "--cost-per-site",
    type=float,
    default=float("nan"),
    help="Cost of generated candidates (e.g. 80000 for a township workers' home).",
)
@click.option("--max-minutes", type=float, default=60.0, show_default=True)
@click.option(
    "--solver",
    type=click.Choice(["greedy", "exact"]),
    default="greedy",
    show_default=True,
    help="Lazy greedy (fast, bounded) or exact MILP (HiGHS).",
)
@click.option("--time-limit-s", type=float, default=60.0, show_default=True)
@click.option(
    "--capacity",
    type=float,
    help="Demand each new site can serve (people or units; each demand point goes to one site).",
)
@click.option(
    "--capacity-col",
    help="Column of the --candidates file with each site's capacity (instead of --capacity).",
)
@click.option(
    "--tie-break",
    type=click.Choice(["mean-time"]),
    help="Among plans covering as much, pick the one with the lowest mean travel time.",
)
@click.option(
    "--network",
    type=click.Path(path_type=Path, dir_okay=False),
    help="OSM .osm.pbf: plan on the road-network model (default: crow-fly estimate).",
)
@demand_options
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def plan(
    ctx: Context,
    kind,
    add,
    target_share,
    budget,
    years,
    candidates_path,
    cost_per_site,
    max_minutes,
    solver,
    time_limit_s,
    capacity,
    capacity_col,
    tie_break,
    network,
    mode,
    speed_kph,
    circuity,
    population,
    population_table,
    demand_points,
    resolution,
    region,
    out,
) -> None:
    """Where to add stations: best K sites, fewest for a target share, or best within a budget.

    Existing operating stations of the kind are fixed. Writes plan.json, plan.xlsx,
    chosen_sites.geojson/.gpkg, map.html, coverage_curve.png and travel_time_hist.png.
    """
    from geo.planning import PlanParams

    try:
        params = PlanParams(
            kind=kind,
            region=region,
            add=add,
            target_share=target_share,
            budget=budget,
            years=years,
            max_minutes=max_minutes,
            mode=mode,
            speed_kph=speed_kph,
            circuity=circuity,
            solver=solver,
            time_limit_s=time_limit_s,
            capacity=capacity,
            capacity_col=capacity_col,
            tie_break=tie_break,
            network=str(network) if network else None,
            candidates=str(candidates_path) if candidates_path else None,
            cost_per_site=None if cost_per_site != cost_per_site else cost_per_site,
            population=str(population) if population else None,
            population_table=str(population_table) if population_table else None,
            demand_points=str(demand_points) if demand_points else None,
            resolution=resolution,
        )
    except YizhanError as exc:
        raise click.UsageError(exc.message) from None
    run = _run_and_report(ctx, params, out)
    _echo_plan(run)
    click.echo(f"wrote {out}")


def _run_and_report(ctx: Context, params, out: Path | None):
    from geo.planning import run_plan
    from geo.report import plan_report

    try:
        with _step(f"plan ({params.solver})"):
            run = run_plan(
                ctx.ready_repo().all(),
                params,
                cache_dir=Path(ctx.settings.instance_path) / "graphs",
            )
        if out is not None:
            with _step("report"):
                plan_report(
                    run.plan,
                    run.candidates,
                    run.before,
                    run.after,
                    out,
                    record={
                        "params": params.to_dict(),
                        "model": run.before.record["model"],
                        "demand_source": run.demand_source,
                    },
                )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    return run


def _echo_plan(run) -> None:
    p = run.plan
    gap = f"; gap ≤ {p.gap:.2%} to the proven bound" if p.gap is not None else ""
    click.echo(
        f"{p.problem} ({p.solver}, {p.status}): {len(p.chosen)} sites; share "
        f"{p.share_before:.1%} → {p.share_after:.1%}{gap}"
    )
    if p.mean_minutes is not None:
        click.echo(f"  mean travel time of covered demand: {p.mean_minutes:.1f} min")
    for rank, (j, gain) in enumerate(zip(p.chosen, p.gains, strict=True), 1):
        click.echo(f"  {rank:>3}. {run.candidates['name'].iat[j]}  +{gain:g}")
    for message in p.messages:
        click.echo(f"note: {message}", err=True)


@main.group()
def scenario() -> None:
    """Saved planning scenarios: save, list, show, re-run, compare."""


@scenario.command("save")
@click.argument("name")
@click.option(
    "--params",
    "params_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="JSON file of plan parameters (kind, region, add|target_share|budget, "
    "max_minutes, mode, candidates, cost_per_site, add_stations, "
    "remove_station_ids …).",
)
@pass_ctx
def scenario_save(ctx: Context, name: str, params_path: Path) -> None:
    """Run a plan from a parameter file and save it as a scenario (what-ifs included)."""
    from geo.planning import PlanParams
    from geo.store import ScenarioRepository

    try:
        params = PlanParams.from_dict(json.loads(params_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"{params_path}: {exc}") from None
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    run = _run_and_report(ctx, params, None)
    repo = ctx.ready_repo()
    saved = ScenarioRepository(repo.engine, repo.revision).save(
        name, params.to_dict(), run.summary(), repo.revision()
    )
    _echo_plan(run)
    click.echo(f"saved scenario {saved.id} ({name})")


@scenario.command("list")
@pass_ctx
def scenario_list(ctx: Context) -> None:
    """List saved scenarios (stale: the registry changed since the last run)."""
    from geo.store import ScenarioRepository

    repo = ctx.ready_repo()
    for s in ScenarioRepository(repo.engine, repo.revision).all():
        share = s.result["share_after"] if s.result else None
        flag = " (stale: re-run)" if s.stale else ""
        click.echo(f"{s.id}\t{s.name}\t{share if share is None else f'{share:.1%}'}{flag}")


@scenario.command("show")
@click.argument("scenario_id")
@pass_ctx
def scenario_show(ctx: Context, scenario_id: str) -> None:
    """Print one scenario as JSON."""
    from geo.store import ScenarioRepository

    repo = ctx.ready_repo()
    try:
        s = ScenarioRepository(repo.engine, repo.revision).get(scenario_id)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(json.dumps(s.to_dict(), ensure_ascii=False, indent=2))


@scenario.command("rerun")
@click.argument("scenario_id")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Also write the report folder."
)
@pass_ctx
def scenario_rerun(ctx: Context, scenario_id: str, out: Path | None) -> None:
    """Re-run a scenario on the current registry and store the new result."""
    from geo.planning import PlanParams
    from geo.store import ScenarioRepository

    repo = ctx.ready_repo()
    store = ScenarioRepository(repo.engine, repo.revision)
    try:
        s = store.get(scenario_id)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    run = _run_and_report(ctx, PlanParams.from_dict(s.params), out)
    store.save(s.name, s.params, run.summary(), repo.revision(), scenario_id=s.id)
    _echo_plan(run)


@scenario.command("compare")
@click.argument("a")
@click.argument("b")
@pass_ctx
def scenario_compare(ctx: Context, a: str, b: str) -> None:
    """Two scenarios side by side."""
    from geo.planning import compare
    from geo.store import ScenarioRepository

    repo = ctx.ready_repo()
    store = ScenarioRepository(repo.engine, repo.revision)
    try:
        sa_, sb = store.get(a), store.get(b)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{'':<14}{sa_.name:<30}{sb.name}")
    for row in compare(sa_.result or {}, sb.result or {}):
        fa, fb = (
            f"{v:.1%}" if isinstance(v, float) and "share" in row["figure"] else v
            for v in (row["a"], row["b"])
        )
        click.echo(f"{row['figure']:<14}{fa!s:<30}{fb!s}")


@main.group()
def user() -> None:
    """Planner users (login of the planner pages): add, list, passwd, remove."""


def _users(ctx: Context):
    from geo.store import UserRepository

    return UserRepository(ctx.ready_repo().engine)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)


_password_stdin = click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (scripts) instead of a "
    "hidden prompt.",
)


@user.command("add")
@click.argument("name")
@_password_stdin
@pass_ctx
def user_add(ctx: Context, name: str, password_stdin: bool) -> None:
    """Create planner user NAME (password from a hidden prompt, asked twice)."""
    try:
        _users(ctx).create(name, _read_password(password_stdin))
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} created")


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """List planner users (name, created, last login, disabled)."""
    for u in _users(ctx).all():
        last = u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "-"
        flag = "\tdisabled" if u.disabled else ""
        click.echo(f"{u.name}\t{u.created_at.isoformat(timespec='seconds')}\t{last}{flag}")


@user.command("passwd")
@click.argument("name")
@_password_stdin
@click.option("--disable", "state", flag_value="disable", help="Disable the user (no login).")
@click.option("--enable", "state", flag_value="enable", help="Enable a disabled user again.")
@pass_ctx
def user_passwd(ctx: Context, name: str, password_stdin: bool, state: str | None) -> None:
    """Set the password of NAME (or only --disable / --enable the user)."""
    users = _users(ctx)
    try:
        if state:
            users.set_disabled(name, state == "disable")
            click.echo(f"user {name} {state}d")
            return
        users.get(name)
        users.set_password(name, _read_password(password_stdin))
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"password of {name} changed")


@user.command("remove")
@click.argument("name")
@pass_ctx
def user_remove(ctx: Context, name: str) -> None:
    """Remove planner user NAME."""
    try:
        _users(ctx).remove(name)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} removed")


class _step:
    """Print a step's name and duration to stderr (a progress line for long steps)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self):
        import time

        self.t0 = time.perf_counter()
        click.echo(f"… {self.name}", err=True)

    def __exit__(self, *exc):
        import time

        if exc[0] is None:
            click.echo(f"  {self.name}: {time.perf_counter() - self.t0:.1f} s", err=True)


@main.command("settings")
def settings_cmd() -> None:
    """List every setting: environment variable, default and meaning."""
    from geo.settings import documented_settings

    for _name, env, default, help_text in documented_settings():
        click.echo(f"{env} (default: {default!s})\n    {help_text}")


if __name__ == "__main__":  # python -m geo.cli
    main()
