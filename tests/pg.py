"""A throwaway PostgreSQL + PostGIS cluster for the tests (no mocks, no service).

:class:`Cluster` runs Debian's ``initdb``/``pg_ctl`` (``/usr/lib/postgresql/15/bin``, installed by
``scripts/install_test_deps.sh``) on a temporary directory, a free loopback port and a unix socket
in that directory. ``initdb`` refuses to run as root, so as root (CI, containers) the cluster
belongs to the ``postgres`` system user (``runuser -u postgres``) and the directory is given to
it; otherwise it runs as the current user. Authentication is ``trust`` on loopback only.

Every test gets its own database, copied from a template that already has PostGIS (``CREATE
DATABASE … TEMPLATE``: a few tens of milliseconds), and dropped after the test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("YIZHAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
MISSING = (
    f"PostgreSQL or PostGIS is missing ({PG_BIN / 'initdb'}, {POSTGIS_CONTROL}): run "
    "`scripts/install_test_deps.sh` (installs Debian's postgresql and postgresql-15-postgis-3 "
    'with apt), or deselect these tests with -m "not postgres"'
)
TEMPLATE = "yizhan_template"
SUPERUSER = "postgres"


def missing() -> str | None:
    """Why the cluster cannot start here (``None`` when it can)."""
    if not (PG_BIN / "initdb").exists() or not POSTGIS_CONTROL.exists():
        return MISSING
    return None


class Cluster:
    """A PostgreSQL cluster in a temporary directory; :meth:`stop` removes every trace."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="yizhan-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        self._names = itertools.count(1)

    # -- process control ------------------------------------------------------------------
    def _run(self, *args: str | Path) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    @classmethod
    def sweep_orphans(cls) -> list[Path]:
        """Stop and remove the clusters of test sessions that died without cleaning up (a
        killed or timed-out run): each cluster's folder names the pid of the session that
        made it (``owner.pid``); a cluster whose session is gone is an orphan."""
        swept = []
        for root in Path(tempfile.gettempdir()).glob("yizhan-pg-*"):
            try:
                owner = int((root / "owner.pid").read_text())
            except (OSError, ValueError):
                continue  # not ours, or still being made
            try:
                os.kill(owner, 0)
                continue  # its session is alive
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            orphan = cls.__new__(cls)
            orphan.root, orphan.data = root, root / "data"
            orphan.as_root = os.geteuid() == 0
            try:
                orphan.destroy()
            except (RuntimeError, OSError, subprocess.SubprocessError):
                shutil.rmtree(root, ignore_errors=True)
            swept.append(root)
        return swept

    def init(self) -> Cluster:
        (self.root / "owner.pid").write_text(str(os.getpid()))
        if self.as_root:
            shutil.chown(self.root, SUPERUSER, SUPERUSER)
        self._run(
            PG_BIN / "initdb",
            "-D",
            self.data,
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the superuser, outside a transaction (CREATE DATABASE…)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=database, autocommit=True
        ) as conn:
            conn.execute(statement)

    def make_template(self) -> None:
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        self.sql("CREATE EXTENSION postgis", database=TEMPLATE)

    def create_database(self, *, postgis: bool = True, owner: str | None = None) -> str:
        """A fresh database (with PostGIS from the template unless ``postgis=False``)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if postgis else "template0"
        owned = f" OWNER {owner}" if owner else ""
        self.sql(f"CREATE DATABASE {name} TEMPLATE {template}{owned}")
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
