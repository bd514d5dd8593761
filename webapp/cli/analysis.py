"""Analysis verbs of ``yizhan``: coverage, plan, scenario (all through :mod:`geo.workflows`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from geo.errors import YizhanError
from geo.models import MODES
from webapp.cli._base import Context, Steps, main, pass_ctx, step


def report_options(f):
    """The report-file options shared by ``coverage`` and ``plan``: language and the PDF."""
    f = click.option(
        "--pdf/--no-pdf",
        default=True,
        show_default=True,
        help="Also write report.pdf (A4, map, figures, table by county, findings, caveats).",
    )(f)
    return click.option(
        "--lang",
        type=click.Choice(["zh", "en"]),
        default="zh",
        show_default=True,
        help="Language of the report files (sheet names, headers, charts, map legend).",
    )(f)


def demand_options(f):
    """The demand, model and region options shared by ``coverage`` and ``plan``."""
    options = [
        click.option(
            "--mode",
            type=click.Choice(MODES),
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
            "--township-table",
            type=click.Path(path_type=Path, dir_okay=False),
            help="CSV/XLSX of townships (code or name; lon/lat and/or population) placing and "
            "weighting the township seats; rows that cannot be used are reported by line.",
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
    "--minutes-cap",
    "minutes_cap",
    type=float,
    default=None,
    help="Compute travel minutes up to this many (default: 4 × the largest threshold); "
    "farther units read '> cap'.",
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
@report_options
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
    minutes_cap,
    mode,
    network,
    speed_kph,
    circuity,
    population,
    population_table,
    demand_points,
    township_table,
    resolution,
    by,
    region,
    partitioned,
    lang,
    pdf,
    out,
) -> None:
    """The service circle: share of demand within reach of a station, tables, gaps, map.

    Without population input, demand is one unit per township seat of the region ("share
    of townships whose seat is within an hour"). Writes summary.json, by_county.csv,
    by_township.csv, coverage.xlsx, gaps.geojson, service_areas.geojson, cells.gpkg,
    map.html and report.pdf (unless --no-pdf) to --out.
    """
    from geo.workflows import CoverageParams, run_coverage, write_coverage_outputs

    try:
        params = CoverageParams(
            kinds=kinds,
            region=region,
            max_minutes=max_minutes,
            minutes_cap=minutes_cap,
            mode=mode,
            network=network,
            speed_kph=speed_kph,
            circuity=circuity,
            population=population,
            population_table=population_table,
            demand_points=demand_points,
            township_table=township_table,
            resolution=resolution,
            by=by or ("county", "township"),
            partitioned=partitioned,
        )
        client = None
        if partitioned and ctx.settings.dask_scheduler:
            from dask.distributed import Client

            client = Client(ctx.settings.dask_scheduler)
        steps = Steps()
        run = run_coverage(
            params,
            ctx.ready_repo(),  # the store: only stations within reach are read
            progress=steps,
            cache_dir=Path(ctx.settings.instance_path) / "graphs",
            client=client,
        )
        write_coverage_outputs(
            run,
            out,
            progress=steps,
            lang=lang,
            pdf=pdf,
            **_map_notices(),
        )
        steps.done()
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    result = run.result
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
    click.echo(f"  {summary['headline']}")
    table = result.by_admin("county")
    for row in table.itertuples(index=False):
        share = "—" if row.share is None or row.share != row.share else f"{row.share:.1%}"
        unknown = f"  位置未知 {row.units_unplaced}" if row.units_unplaced else ""
        click.echo(
            f"  {row.code} {row.name:<10} {share:>7}  "
            f"{row.units_covered}/{row.units_placed}{unknown}  nearest: {row.nearest_station}"
        )
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
@report_options
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
    township_table,
    resolution,
    region,
    lang,
    pdf,
    out,
) -> None:
    """Where to add stations: best K sites, fewest for a target share, or best within a budget.

    Existing operating stations of the kind are fixed. Writes plan.json, plan.xlsx,
    chosen_sites.geojson/.gpkg, map.html, coverage_curve.png, travel_time_hist.png and
    report.pdf (unless --no-pdf).
    """
    from geo.workflows import PlanParams

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
            township_table=str(township_table) if township_table else None,
            resolution=resolution,
        )
    except YizhanError as exc:
        raise click.UsageError(exc.message) from None
    run = _run_and_report(ctx, params, out, lang, pdf)
    _echo_plan(run)
    click.echo(f"wrote {out}")


def _map_notices() -> dict[str, str]:
    """The map approval number (审图号) and ICP record configured for the web maps
    (``YIZHAN_MAP_APPROVAL``, ``YIZHAN_ICP``): every report map states them too."""
    from webapp.settings import WebSettings

    web = WebSettings.from_env()
    return {"map_approval": web.map_approval, "icp": web.icp}


def _run_and_report(ctx: Context, params, out: Path | None, lang: str = "zh", pdf: bool = True):
    from geo.workflows import run_plan, write_plan_outputs

    try:
        with step(f"plan ({params.solver})"):
            run = run_plan(
                params,
                ctx.ready_repo(),
                cache_dir=Path(ctx.settings.instance_path) / "graphs",
            )
        if out is not None:
            with step("report"):
                write_plan_outputs(
                    run,
                    out,
                    lang=lang,
                    pdf=pdf,
                    **_map_notices(),
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
    summary = run.summary()
    click.echo(f"  {summary['headline']}")
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
    from geo.store import ScenarioRepository
    from geo.workflows import PlanParams

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
    from geo.store import ScenarioRepository
    from geo.workflows import PlanParams

    repo = ctx.ready_repo()
    store = ScenarioRepository(repo.engine, repo.revision)
    try:
        s = store.get(scenario_id)
        params = PlanParams.from_dict(s.params)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    run = _run_and_report(ctx, params, out)
    store.save(s.name, s.params, run.summary(), repo.revision(), scenario_id=s.id)
    _echo_plan(run)


@scenario.command("compare")
@click.argument("a")
@click.argument("b")
@pass_ctx
def scenario_compare(ctx: Context, a: str, b: str) -> None:
    """Two scenarios side by side."""
    from geo.store import ScenarioRepository
    from geo.workflows import compare

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
