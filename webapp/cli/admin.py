"""Administration verbs of ``yizhan``: init-db, serve, user, settings."""

from __future__ import annotations

import os
import sys

import click

from geo.errors import YizhanError
from webapp.cli._base import Context, main, pass_ctx


@main.command("init-db")
@pass_ctx
def init_db(ctx: Context) -> None:
    """Create the database schema, or upgrade it to the newest version."""
    try:
        revision = ctx.repo.init_schema()
    except YizhanError as exc:  # e.g. PostGIS missing and not ours to create: the SQL to run
        raise click.ClickException(exc.message) from None
    click.echo(f"database ready at schema {revision}: {_safe_url(ctx.settings.database)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=None, help="Port (default: $PORT, else 5000).")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Worker threads of the WSGI server (waitress; default: $YIZHAN_THREADS, else 8).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes. 1: waitress, one process (the default). N > 1: gunicorn forks N "
    "worker processes (Linux and other POSIX systems), each with --threads threads and its own "
    "station index; job queue, rate limits, login throttling and sessions are shared through "
    "the database.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Flask's development server with reloader and Werkzeug's interactive debugger "
    "(runs Python typed into an error page): only on a loopback host (127.0.0.1, ::1, "
    "localhost), never on a server others can reach.",
)
@pass_ctx
def serve(
    ctx: Context, host: str, port: int | None, threads: int | None, workers: int, debug: bool
) -> None:
    """Serve the locator map and the API (production WSGI server: waitress; gunicorn with
    --workers N)."""
    from webapp import create_app
    from webapp.services import services

    if debug and host.strip("[]").lower() not in LOOPBACK_HOSTS:
        raise click.UsageError(
            f"--debug 只能用于本机地址（127.0.0.1、::1、localhost），不能用于 {host}："
            "调试器可以执行任意代码。 (--debug runs an interactive debugger that executes any "
            f"code; it is refused on the non-loopback host {host}.)"
        )
    port = port or int(os.environ.get("PORT") or 5000)
    if workers > 1 and debug:
        raise click.UsageError("--debug runs one process: it cannot be used with --workers")
    if workers > 1 and os.name != "posix":
        raise click.UsageError("--workers N > 1 needs gunicorn, which runs on Linux/POSIX only")
    ctx.ready_repo()
    if workers > 1:
        _serve_workers(ctx, host, port, threads, workers)
        return
    app = create_app({"DATABASE_URL": ctx.settings.database})
    services(app).index.get()  # build the station index before the first visitor
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"Yizhan serving on http://{shown}:{port}/  (Ctrl+C to stop)", err=False)
    sys.stdout.flush()
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    from webapp import serving

    settings = services(app).settings  # connection limit, queue bound, timeouts: YIZHAN_*
    _stop_on_signals()
    try:
        serving.serve(app, host, port, settings, threads or settings.threads)
    except KeyboardInterrupt:
        pass
    finally:  # the planner's worker processes end with the server
        jobs = services(app).jobs
        if jobs is not None:
            jobs.shutdown()


def _serve_workers(ctx: Context, host: str, port: int, threads: int | None, workers: int) -> None:
    """``serve --workers N``: gunicorn's master here, the app built in each worker."""
    from webapp import serving
    from webapp.settings import WebSettings

    settings = WebSettings.from_env()
    if not settings.secret_key:
        # Every worker must sign sessions with the same key, or a login through one worker
        # is refused by the next: without YIZHAN_SECRET_KEY the master draws one for all
        # (sessions then end with the server, as with one process).
        import secrets

        os.environ["YIZHAN_SECRET_KEY"] = secrets.token_hex(32)
        click.echo("YIZHAN_SECRET_KEY is not set: sessions end when the server stops", err=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(
        f"Yizhan serving on http://{shown}:{port}/ with {workers} worker processes (Ctrl+C to stop)"
    )
    sys.stdout.flush()
    serving.serve_workers(
        ctx.settings.database, host, port, settings, workers, threads or settings.threads
    )


def _stop_on_signals() -> None:
    """SIGTERM (and SIGHUP) end ``serve`` like Ctrl+C (SIGINT): by an exception in the main
    thread, so its ``finally`` stops the job workers (Python's default would exit at once)."""
    import signal

    def stop(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, stop)


#: Hosts ``serve --debug`` accepts: the debugger must never be reachable from elsewhere.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@main.group()
def user() -> None:
    """Users of the planner and /manage/ pages: add, list, set, passwd, logout, adopt, remove.

    Roles: admin (all), reviewer (approves changes in its areas, may edit there), editor
    (edits stations in its areas), planner (the planner pages), staff (read-only). An area is
    an admin code (province 450000, prefecture 450200, county 450225, township 450225100000);
    editors, reviewers and staff need at least one. A new password, --disable and logout end
    every session of the user at once (cookies saved before stop working).
    """


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


_ROLE_NAMES = ("admin", "reviewer", "editor", "planner", "staff")  # geo.access.Role, no import
_role_option = click.option(
    "--role",
    type=click.Choice(_ROLE_NAMES),
    help="admin, reviewer, editor, planner or staff.",
)
_area_option = click.option(
    "--area",
    "areas",
    multiple=True,
    metavar="CODE",
    help="An admin code the role applies to (repeatable): 450000, 450200, 450225, 450225100000.",
)


def _areas_text(areas) -> str:
    """``450225 广西壮族自治区柳州市融水苗族自治县, …``, or ``(all areas)``."""
    from geo.access import area_name

    if not areas:
        return "(all areas)"
    return ", ".join(f"{code} {area_name(code) or '?'}" for code in areas)


@user.command("add")
@click.argument("name")
@_password_stdin
@_role_option
@_area_option
@pass_ctx
def user_add(
    ctx: Context, name: str, password_stdin: bool, role: str | None, areas: tuple[str, ...]
) -> None:
    """Create user NAME (password from a hidden prompt, asked twice); role planner unless
    --role says otherwise."""
    from geo.access import DEFAULT_ROLE, area_code, check_user_areas, parse_role

    try:  # role and areas before the password prompt: a typo is told at once
        chosen = parse_role(role or DEFAULT_ROLE)
        codes = [area_code(a) for a in areas]
        check_user_areas(chosen, codes)
        created = _users(ctx).create(name, _read_password(password_stdin), chosen, codes)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name} created: {created.role}, {_areas_text(created.areas)}")


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """List users: name, role, areas (code and place name), created, last login, disabled."""
    for u in _users(ctx).all():
        last = u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "-"
        flag = "\tdisabled" if u.disabled else ""
        click.echo(
            f"{u.name}\t{u.role}\t{_areas_text(u.areas)}\t"
            f"{u.created_at.isoformat(timespec='seconds')}\t{last}{flag}"
        )


@user.command("set")
@click.argument("name")
@_role_option
@_area_option
@click.option(
    "--remove-area", "removed", multiple=True, metavar="CODE", help="An area to take away."
)
@click.option("--clear-areas", is_flag=True, help="Remove every area first (then --area adds).")
@pass_ctx
def user_set(
    ctx: Context,
    name: str,
    role: str | None,
    areas: tuple[str, ...],
    removed: tuple[str, ...],
    clear_areas: bool,
) -> None:
    """Change the role and areas of NAME (--area adds, --remove-area takes away); holds from
    the user's next request."""
    if not (role or areas or removed or clear_areas):
        raise click.UsageError("nothing to change: give --role, --area, --remove-area")
    try:
        changed = _users(ctx).set_role(
            name,
            role,
            areas=() if clear_areas else None,
            add_areas=areas,
            remove_areas=removed,
        )
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {name}: {changed.role}, {_areas_text(changed.areas)}")


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


@user.command("logout")
@click.argument("name")
@pass_ctx
def user_logout(ctx: Context, name: str) -> None:
    """End every planner session of NAME now (e.g. a lost laptop); the password stays."""
    try:
        _users(ctx).end_sessions(name)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"sessions of {name} ended")


@user.command("adopt")
@click.argument("name")
@click.argument("scenario_ids", nargs=-1, required=True)
@pass_ctx
def user_adopt(ctx: Context, name: str, scenario_ids: tuple[str, ...]) -> None:
    """Give saved scenarios SCENARIO_IDS to planner user NAME (e.g. scenarios saved before
    they had owners, or with ``yizhan scenario save``: the planner shows those to nobody)."""
    from geo.store import ScenarioRepository

    repo = ctx.ready_repo()
    try:
        _users(ctx).get(name)
        store = ScenarioRepository(repo.engine, repo.revision)
        for scenario_id in scenario_ids:
            store.set_owner(scenario_id, name)
    except YizhanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{len(scenario_ids)} scenario(s) now owned by {name}")


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


@main.command("settings")
def settings_cmd() -> None:
    """List every setting: environment variable, default and meaning."""
    from webapp.settings import documented_settings

    for _name, env, default, help_text in documented_settings():
        click.echo(f"{env} (default: {default!s})\n    {help_text}")
