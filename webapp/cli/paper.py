"""``yizhan print``: printable door signs and county posters (有地图可查 on paper).

``yizhan print sign STATION_ID --out F.pdf`` writes a station's A5 door sign,
``yizhan print poster --area COUNTY_CODE --out F.pdf`` a county's A3 poster
(:mod:`geo.paper`). The QR codes link to ``YIZHAN_PUBLIC_URL`` (or ``--base-url``).
"""

from __future__ import annotations

from pathlib import Path

import click

from webapp.cli._base import Context, main, pass_ctx

_LANG = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language."
)
_BASE = click.option(
    "--base-url",
    metavar="URL",
    help="Public base URL the QR codes link to (default: YIZHAN_PUBLIC_URL; required without it).",
)
_OUT = click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="PDF file to write.",
)


def _base_url(ctx: Context, base_url: str | None) -> str:
    base = base_url or ctx.settings.public_url
    if not base:
        raise click.UsageError("set YIZHAN_PUBLIC_URL or give --base-url (the QR codes' site)")
    return base


@main.group("print")
def print_group() -> None:
    """Printable PDFs: a station's door sign (A5), a county's poster (A3)."""


@print_group.command("sign")
@click.argument("station_id")
@_OUT
@_BASE
@_LANG
@pass_ctx
def sign(ctx: Context, station_id: str, out: Path, base_url: str | None, lang: str) -> None:
    """Write STATION_ID's door sign: name, hours, services, phone, address, QR code."""
    from geo.errors import ValidationError
    from geo.paper import sign_pdf

    base = _base_url(ctx, base_url)
    station = ctx.ready_repo().get(station_id)
    if station is None or station.lon is None:
        raise click.ClickException(f"no station {station_id!r} with a position")
    try:
        sign_pdf(station, base, out, lang=lang)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"wrote the door sign of {station_id} to {out}")


@print_group.command("poster")
@click.option("--area", required=True, metavar="CODE", help="County code (6 digits).")
@_OUT
@_BASE
@_LANG
@pass_ctx
def poster(ctx: Context, area: str, out: Path, base_url: str | None, lang: str) -> None:
    """Write a county's poster: its stations numbered on a map and in a list."""
    from geo.errors import ValidationError
    from geo.paper import poster_pdf, poster_stations
    from geo.store.repository import StationQuery

    base = _base_url(ctx, base_url)
    stations, _ = ctx.ready_repo().query(StationQuery(county=area))
    settings = ctx.settings
    try:
        poster_pdf(
            area,
            stations,
            out,
            lang=lang,
            base_url=base,
            map_approval=getattr(settings, "map_approval", ""),
            icp=getattr(settings, "icp", ""),
        )
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    shown = len(poster_stations(stations)[0])
    click.echo(f"wrote the poster of {area} ({shown} stations) to {out}")
