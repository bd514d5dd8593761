"""History and audit verbs of ``yizhan`` (issue 15 item 6): ``audit export``, ``history``,
``revert``. The store keeps the history (:mod:`geo.store.history`); these only print and write
it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from geo.errors import YizhanError
from webapp.cli._base import Context, cli_actor, main, pass_ctx


def _day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@main.group()
def audit() -> None:
    """Audit of station changes (who, when, what, why)."""


@audit.command("export")
@click.option("--area", help="Admin code: province, prefecture, county or township (default: all).")
@click.option(
    "--since", required=True, callback=_day, metavar="DATE", help="First day (China time)."
)
@click.option("--until", callback=_day, metavar="DATE", help="Last day, included (default: now).")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file: .csv or .xlsx.",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Headers and action labels: Chinese (时间, 操作 …) or English.",
)
@pass_ctx
def audit_export(
    ctx: Context, area: str | None, since: date, until: date | None, out: Path, lang: str
) -> None:
    """Write every station change in AREA between --since and --until (one line per changed
    field) to a CSV or XLSX file."""
    from geo.records.audit import export_audit

    if until is not None and until < since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    try:
        rows = ctx.ready_repo().audit(area, since, until)
        export_audit(rows, out, lang)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"exported {len(rows)} changes to {out}")


@main.command("history")
@click.argument("station_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def history_cmd(ctx: Context, station_id: str, as_json: bool) -> None:
    """Print the history of station STATION_ID, oldest version first."""
    versions = ctx.ready_repo().history(station_id)
    if not versions:
        raise click.ClickException(f"no history for station {station_id}")
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], ensure_ascii=False, indent=2))
        return
    for v in versions:
        at = v.at.isoformat(timespec="seconds")
        why = f" — {v.reason}" if v.reason else ""
        click.echo(f"v{v.version}  {at}  {v.action}  {v.actor} ({v.source}){why}")
        for name, (before, after) in sorted(v.changes.items()):
            click.echo(f"    {name}: {before!r} -> {after!r}")


@main.command("revert")
@click.argument("station_id")
@click.option("--to", "to_version", type=int, required=True, help="The version to restore.")
@click.option("--reason", required=True, help="Why (kept in the history).")
@click.option("--actor", help="Who (default: cli:<os user>).")
@click.option(
    "--expect",
    "expected",
    type=int,
    help="Refuse if the station's current version is not this one.",
)
@pass_ctx
def revert_cmd(
    ctx: Context,
    station_id: str,
    to_version: int,
    reason: str,
    actor: str | None,
    expected: int | None,
) -> None:
    """Restore version N of STATION_ID as a new version (itself in the history)."""
    try:
        done = ctx.ready_repo().revert(
            station_id,
            to_version,
            actor=actor or cli_actor(),
            reason=reason,
            expected_version=expected,
        )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    if done is None:
        click.echo(f"station {station_id} already equals version {to_version}; nothing changed")
    else:
        click.echo(f"station {station_id}: version {done.version} restores version {to_version}")


__all__ = ["audit", "history_cmd", "revert_cmd"]
