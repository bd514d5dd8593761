"""六有 verbs of ``yizhan``: ``liuyou report`` (the workbook a federation inspects its counties
with); the standard itself is :mod:`geo.liuyou`."""

from __future__ import annotations

from pathlib import Path

import click

from webapp.cli._base import Context, main, pass_ctx


@main.group("liuyou")
def liuyou() -> None:
    """六有 (six-haves) station standard: completeness per station, township and county."""


@liuyou.command("report")
@click.option("--area", required=True, metavar="CODE", help="Admin code (省/市/县/乡镇).")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workbook to write (.xlsx).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_ctx
def report(ctx: Context, area: str, out: Path, lang: str) -> None:
    """Write the 六有 workbook for an area: county and township summaries, station detail.

    Every county and township of the area is listed, those without stations with zero
    counts; what each criterion requires is the deployment's YIZHAN_LIUYOU_RULES.
    """
    from geo.errors import YizhanError
    from geo.gazetteer import default_gazetteer
    from geo.liuyou import in_area, write_report

    area = area.strip()
    if not (area.isdigit() and len(area) in (6, 9, 12)):
        raise click.BadParameter("an admin code of 6, 9 or 12 digits", param_hint="--area")
    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter("the report is an .xlsx workbook", param_hint="--out")
    try:
        rules = ctx.settings.liuyou()
        gazetteer = default_gazetteer()
        if gazetteer.get(area) is None and len(area) == 6:
            raise click.BadParameter(f"unknown admin code {area}", param_hint="--area")
        stations = [s for s in ctx.ready_repo().all() if in_area(s, area)]
        write_report(out, stations, area, rules, gazetteer, lang)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from exc
    demo = any(s.demo for s in stations)
    click.echo(
        f"六有 report: {len(stations)} stations in {area} -> {out}"
        + (" (demo data: illustrative)" if demo else "")
    )
