"""Spatial index: nearest/within/bbox checked against brute-force haversine on seeded data."""

from __future__ import annotations

import random
from datetime import datetime

import numpy as np
import pytest

from geo.crs import distance_m
from geo.index import ANY, Filter, LiveIndex, StationIndex
from geo.models import Station, Status

KINDS = ["rest_stop", "legal_aid", "workers_home"]
SERVICES = ["drinking_water", "toilet", "nursing_room"]

# the tests over a store (``repo``) run on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_backends


def make_stations(n: int, seed: int = 42) -> list[Station]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            Station(
                id=f"S{i:05d}",
                name=f"站{i}",
                kind=rng.choice(KINDS),
                lon=rng.uniform(104.0, 112.0),
                lat=rng.uniform(21.0, 27.0),
                services=tuple(sorted(rng.sample(SERVICES, rng.randint(0, 3)))),
                status=rng.choice([Status.OPEN] * 8 + [Status.CLOSED, Status.PLANNED]),
                hours=rng.choice(["24小时", "周一至周五 09:00-17:00", None, "每天 20:00-23:00"]),
            )
        )
    return out


@pytest.fixture(scope="module")
def stations():
    return make_stations(3000)


@pytest.fixture(scope="module")
def index(stations):
    return StationIndex(stations)


def brute(stations, lon, lat, accept):
    rows = [(float(distance_m(lon, lat, s.lon, s.lat)), s.id) for s in stations if accept(s)]
    return sorted(rows)


@pytest.mark.parametrize("seed", range(5))
def test_nearest_matches_brute_force(stations, index, seed):
    rng = random.Random(seed)
    lon, lat = rng.uniform(104, 112), rng.uniform(21, 27)
    hits = index.nearest(lon, lat, 7, ANY)
    expected = brute(stations, lon, lat, lambda s: True)[:7]
    assert [h.station.id for h in hits] == [i for _, i in expected]
    np.testing.assert_allclose([h.distance_m for h in hits], [d for d, _ in expected], rtol=1e-9)


def test_filters_match_brute_force(stations, index):
    at = datetime(2026, 11, 23, 21, 0)  # Monday 21:00 China time
    f = Filter.of(kinds=["rest_stop", "legal_aid"], services=["toilet"], open_at=at)
    hits = index.nearest(108.0, 24.0, 10, f)

    def accept(s):
        return (
            s.kind in f.kinds
            and "toilet" in s.services
            and s.status is Status.OPEN
            and s.is_open(at) is True
        )

    assert [h.station.id for h in hits] == [i for _, i in brute(stations, 108, 24, accept)[:10]]
    default = index.nearest(108.0, 24.0, 20)  # default: operating stations only
    assert all(h.station.status is Status.OPEN for h in default)


def test_selective_filter_and_too_few_matches(stations, index):
    f = Filter.of(kinds=["workers_home"], services=["drinking_water", "toilet", "nursing_room"])
    everything = index.nearest(108.0, 24.0, 10_000, f)
    expected = [
        i
        for _, i in brute(
            stations,
            108,
            24,
            lambda s: s.kind == "workers_home" and s.status is Status.OPEN and len(s.services) == 3,
        )
    ]
    assert [h.station.id for h in everything] == expected and len(expected) < 10_000


def test_within_and_max_distance(stations, index):
    hits = index.within(108.0, 24.0, 50_000, ANY)
    expected = [i for d, i in brute(stations, 108, 24, lambda s: True) if d <= 50_000]
    assert [h.station.id for h in hits] == expected
    capped = index.nearest(108.0, 24.0, 1000, ANY, max_distance_m=50_000)
    assert [h.station.id for h in capped] == expected


def test_bbox(stations, index):
    got = {
        s.id for s in index.in_bbox(106, 22, 107, 23, Filter.of(kinds=["legal_aid"], statuses=None))
    }
    assert got == {
        s.id
        for s in stations
        if 106 <= s.lon <= 107 and 22 <= s.lat <= 23 and s.kind == "legal_aid"
    }


@pytest.mark.parametrize("seed", range(8))
def test_mask_with_bbox_and_filters_matches_brute_force(stations, index, seed):
    from datetime import UTC, datetime

    rng = random.Random(seed)
    x0, y0 = rng.uniform(103, 111), rng.uniform(20, 26)
    bbox = (x0, y0, x0 + rng.uniform(0, 3), y0 + rng.uniform(0, 2))
    if seed == 0:
        bbox = (stations[5].lon, stations[5].lat, stations[5].lon, stations[5].lat)  # one point
    at = datetime(2026, 3, 2, rng.randrange(24), tzinfo=UTC)
    f = Filter.of(
        kinds=rng.sample(KINDS, rng.randint(0, 2)),
        services=rng.sample(SERVICES, rng.randint(0, 2)),
        statuses=None if seed % 2 else ["open"],
        open_at=at if seed % 3 == 0 else None,
    )
    got = {index.stations[i].id for i in np.flatnonzero(index.mask(f, bbox)).tolist()}

    def accept(s):
        return (
            bbox[0] <= s.lon <= bbox[2]
            and bbox[1] <= s.lat <= bbox[3]
            and (not f.kinds or s.kind in f.kinds)
            and (not f.statuses or s.status.value in f.statuses)
            and set(f.services or ()) <= set(s.services)
            and (f.open_at is None or s.is_open(f.open_at) is True)
        )

    assert got == {s.id for s in stations if accept(s)}
    if seed == 0:
        assert stations[5].id in got or not accept(stations[5])


def test_vectorised_query_matches_scalar(stations, index):
    lon = np.array([105.0, 108.0, 111.0])
    lat = np.array([22.0, 24.0, 26.0])
    dist, idx = index.query(lon, lat, k=3)
    for j in range(3):
        hits = index.nearest(lon[j], lat[j], 3, ANY)
        assert [index.stations[i].id for i in idx[j]] == [h.station.id for h in hits]
        np.testing.assert_allclose(dist[j], [h.distance_m for h in hits])


def test_empty_index():
    empty = StationIndex([Station(id="x", name="无坐标", kind="rest_stop")])
    assert len(empty) == 0 and empty.nearest(108, 24, 5) == [] and empty.within(108, 24, 1e6) == []


def test_live_index_rebuilds_when_the_registry_changes(repo):
    live = LiveIndex(repo, check_interval_s=0)
    assert len(live.get()) == 0
    repo.save(make_stations(10))
    first = live.get()
    assert len(first) == 10 and live.get() is first  # unchanged: same object
    repo.delete(["S00000"])
    assert len(live.get()) == 9


def test_live_index_rebuild_does_not_block_readers(repo):
    """While one thread rebuilds after a write, the others keep the previous index."""
    import threading

    from geo.store import StationRepository

    started, release = threading.Event(), threading.Event()

    class SlowRepo(StationRepository):  # the real repository, its full read held back
        def all(self):
            stations = super().all()
            if len(stations) == 11:
                started.set()
                assert release.wait(10)
            return stations

    slow = SlowRepo(repo.engine)
    live = LiveIndex(slow, check_interval_s=0)
    slow.save(make_stations(10))
    old = live.get()
    slow.save([make_stations(11)[10]])
    rebuilder = threading.Thread(target=live.get)
    rebuilder.start()
    assert started.wait(10)
    assert live.get() is old and len(live.get()) == 10  # answered at once, not blocked
    pending, revision = live.snapshot()  # the new revision at once, its index still building
    assert revision == slow.revision() and pending is not old
    assert live.ready() is None  # nearest and bbox go to the database meanwhile
    release.set()
    rebuilder.join(10)
    assert len(live.get()) == 11 and live.revision == slow.revision()


def test_feature_bytes_equal_the_dict_serialiser_cold_and_cached():
    """The API's byte path (cached heads) encodes exactly the features of stations_geojson."""
    import json
    from datetime import UTC, datetime

    from geo.geojson import stations_geojson, stations_geojson_bytes

    stations = make_stations(300, seed=3)
    stations[0].name = '<img src=x onerror=alert(1)> "引号" \\ 反斜杠'
    stations[1].address = "广西柳州市\u2028鱼峰区"
    index = StationIndex(stations)
    for at in (datetime(2026, 3, 2, 4, 0, tzinfo=UTC), datetime(2026, 3, 7, 13, 30, tzinfo=UTC)):
        expected = stations_geojson(index.stations, at=at)
        expected["numberReturned"] = len(index.stations)
        for _ in range(2):  # cold, then every head from the cache
            body = stations_geojson_bytes(
                index.stations,
                at=at,
                cache=index.properties_cache,
                numberReturned=len(index.stations),
            )
            assert json.loads(body) == expected
        assert len(index.properties_cache) == len(index.stations)


def test_encoded_features_blob_gives_the_same_bytes_as_the_per_station_cache():
    """encode_features keeps every feature in one blob (issue 14 item 6: memory shared by
    forked workers); answers are byte for byte those of the per-station cache, and a station
    missing from the blob is encoded on demand beside it."""
    import json
    from datetime import UTC, datetime

    from geo.geojson import stations_geojson, stations_geojson_bytes
    from geo.index import EncodedFeatures

    stations = make_stations(400, seed=5)
    stations[2].name = '"引号" \\ </script>'
    lazy, blob = StationIndex(stations), StationIndex(stations)
    blob.ENCODE_CHUNK = 64  # several chunks joined
    blob.encode_features()
    assert isinstance(blob.properties_cache, EncodedFeatures)
    assert blob.properties_cache.nbytes > 100 * len(stations)
    at = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    rng = random.Random(42)
    for _ in range(5):
        page = rng.sample(blob.stations, 25)
        got = stations_geojson_bytes(page, at=at, cache=blob.properties_cache, n=1)
        assert got == stations_geojson_bytes(page, at=at, cache=lazy.properties_cache, n=1)
        assert json.loads(got)["features"] == stations_geojson(page, at=at)["features"]
    assert len(blob.properties_cache) == 0  # all from the blob
    stranger = make_stations(1, seed=9)[0]
    stranger.id = "NEW1"
    body = stations_geojson_bytes([stranger], at=at, cache=blob.properties_cache)
    assert json.loads(body)["features"] == stations_geojson([stranger], at=at)["features"]
    assert len(blob.properties_cache) == 1
    blob.properties_cache.clear()
    assert blob.properties_cache.get(blob.stations[0].id) is not None  # the blob stays


def test_live_index_adopts_a_prebuilt_index_and_rebuilds_when_stale(repo):
    """A worker adopts the index its server built before forking; a stale one is rebuilt."""
    repo.save(make_stations(10))
    prebuilt = StationIndex(repo.all())
    live = LiveIndex(repo, check_interval_s=0)
    live.adopt(prebuilt, repo.revision())
    assert live.get() is prebuilt
    stale = LiveIndex(repo, check_interval_s=0)
    stale.adopt(StationIndex(make_stations(3)), repo.revision() - 1)
    assert len(stale.get()) == 10 and stale.revision == repo.revision()
