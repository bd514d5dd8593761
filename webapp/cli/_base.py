"""The ``yizhan`` command group: settings, database context and helpers every verb shares.

The verbs live by topic: :mod:`webapp.cli.registry` (import, export, demo, nearest, geocode,
reverse, review), :mod:`webapp.cli.analysis` (coverage, plan, scenario) and
:mod:`webapp.cli.admin` (init-db, serve, user, settings).
"""

from __future__ import annotations

import logging

import click

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

    def close(self) -> None:
        """Close the database connections the command opened (click calls this at the end)."""
        if self._repo is not None:
            self._repo.engine.dispose()
            self._repo = None

    def ready_repo(self):
        """The repository, after making sure the schema exists (first run creates it)."""
        self.repo.init_schema()
        return self.repo


pass_ctx = click.make_pass_decorator(Context)


def cli_actor() -> str:
    """Who runs this command, for the station history: ``cli:<os user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name (a container without passwd entry)
        return "cli:unknown"


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
    ctx.call_on_close(ctx.obj.close)


class step:
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


class Steps:
    """A ``progress(stage, fraction)`` callback printing each stage as :class:`step` does."""

    def __init__(self) -> None:
        self._current: step | None = None

    def __call__(self, stage: str, fraction: float) -> None:
        self.done()
        self._current = step(stage)
        self._current.__enter__()

    def done(self) -> None:
        """Close the current stage (prints its duration)."""
        if self._current is not None:
            self._current.__exit__(None, None, None)
            self._current = None
