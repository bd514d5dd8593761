"""The navigation beacon and the demand-signal inputs (issue 15 item 8), attacked.

``POST /signals/navigate/<id>`` takes no cookie and no CSRF token, so its abuse must be
bounded otherwise: unknown or hostile ids count nothing (404), a flood for one station counts
at most :data:`webapp.signals.BEACON_PER_MINUTE` a minute (429 beyond), the buckets are keyed
by station (no client address is stored), GET is refused, and a hostile ``origin`` of
``/api/nearest`` is a 400 that counts nothing. A counted station whose name is markup is
shown as text on the workspace dashboard.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import support
from geo.demand import signals
from geo.records import import_registry
from security.payloads import PAYLOADS
from webapp.services import services
from webapp.signals import BEACON_PER_MINUTE

pytestmark = pytest.mark.both_backends

CLIENT_IP = "198.51.100.23"


@pytest.fixture
def web(db_url):
    app = support.make_app(db_url, tile_url="")
    import_registry(services(app).repo, support.DATA / "registry_zh.csv")
    yield app
    services(app).close()


def _station_rows(app) -> list[tuple]:
    services(app).signals.flush()
    with services(app).repo.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(signals.station_signals))]


@pytest.mark.parametrize(
    "station_id", ["NOPE-1", "T-001x", "../T-001", "T-001%00", "x" * 65, *PAYLOADS[:6]]
)
def test_unknown_or_hostile_ids_count_nothing(web, station_id):
    from urllib.parse import quote

    rv = web.test_client().post("/signals/navigate/" + quote(station_id, safe=""))
    assert rv.status_code in (404, 405), rv.status_code
    assert _station_rows(web) == []


def test_flood_is_rate_limited_per_station_and_no_address_is_kept(web):
    client = web.test_client()
    codes = [
        client.post("/signals/navigate/T-001", environ_base={"REMOTE_ADDR": CLIENT_IP}).status_code
        for _ in range(BEACON_PER_MINUTE + 5)
    ]
    assert codes.count(204) == BEACON_PER_MINUTE and codes[-5:] == [429] * 5
    # another station has its own bucket
    assert client.post("/signals/navigate/T-002").status_code == 204
    rows = {(r[1], r[2]): r[3] for r in _station_rows(web)}
    assert rows == {("T-001", "navigate"): BEACON_PER_MINUTE, ("T-002", "navigate"): 1}
    with services(web).repo.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(sa.text("SELECT key FROM rate_buckets"))]
    assert keys and not any(CLIENT_IP in k or "127.0.0.1" in k for k in keys)


def test_beacon_needs_post_and_sets_no_cookie(web):
    client = web.test_client()
    assert client.get("/signals/navigate/T-001").status_code == 405
    rv = client.post("/signals/navigate/T-001")
    assert rv.status_code == 204 and "Set-Cookie" not in rv.headers


@pytest.mark.parametrize("origin", ["SEARCH'--", "<script>", "search,locate", *PAYLOADS[:3]])
def test_hostile_origin_is_refused_and_counts_nothing(web, origin):
    rv = web.test_client().get(
        "/api/nearest", query_string={"lon": 109.2, "lat": 25.1, "origin": origin}
    )
    assert rv.status_code == 400
    assert services(web).signals.pending == 0


@pytest.mark.parametrize("name", PAYLOADS[:4])
def test_hostile_station_name_on_the_dashboard_is_text(db_url, tmp_path, name):
    """A counted station whose name is markup shows as text on the workspace dashboard."""
    import csv

    from geo.store.users import UserRepository

    lines = (support.DATA / "registry_zh.csv").read_text(encoding="utf-8").splitlines()
    rows = list(csv.reader(lines[1:]))
    rows[1][1] = name  # T-001's name
    path = tmp_path / "hostile.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(lines[0] + "\n")
        csv.writer(f).writerows(rows)
    app = support.make_app(db_url, tile_url="", login_rate_per_minute=1000)
    try:
        import_registry(services(app).repo, path)
        client = app.test_client()
        assert client.get("/stations/T-001").status_code == 200
        services(app).signals.flush()
        UserRepository(services(app).repo.engine).create("root", "correct horse battery", "admin")
        c = app.test_client()
        tok = c.get("/planner/login?format=json").get_json()["csrf_token"]
        data = {"name": "root", "password": "correct horse battery", "csrf_token": tok}
        assert c.post("/planner/login", data=data).status_code == 303
        html = c.get("/manage/").get_data(as_text=True)
        assert 'id="mg-signals"' in html
        assert name not in html
        from markupsafe import escape

        assert str(escape(name)) in html
    finally:
        services(app).close()
