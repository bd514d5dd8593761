"""The tests' throwaway PostgreSQL clusters do not outlive a killed test session: the next
session stops and removes a cluster whose owning session is gone (tests/pg.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pg import Cluster, missing

from support import free_port

pytestmark = pytest.mark.postgres


def test_a_dead_sessions_cluster_is_stopped_and_removed():
    if missing():
        pytest.fail(missing())
    cluster = Cluster(free_port())
    try:
        cluster.init().start()
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        (cluster.root / "owner.pid").write_text(dead.stdout.strip())  # a session that ended
        assert (cluster.data / "postmaster.pid").exists()
        swept = Cluster.sweep_orphans()
        assert cluster.root in swept and not cluster.root.exists()
    finally:
        cluster.destroy()


def test_a_live_sessions_cluster_is_left_alone(pg_cluster):
    assert pg_cluster.root not in Cluster.sweep_orphans()
    assert (pg_cluster.data / "postmaster.pid").exists()
