"""The provider chain and registry over the real clients and loopback fakes of each service."""

from __future__ import annotations

import json
import logging
import os

import pytest
from fakes import Reply, fake_amap, fake_tianditu

from geo import crs
from geo.errors import GeocodeNotFound, RateLimited
from geo.geocode import GeocoderChain, OfflineGeocoder, build_geocoder
from geo.geocode.amap import AmapGeocoder
from geo.settings import Settings
from support import cli, close_app
from webapp.ratelimit import RateLimiter


def amap(server, **kw) -> AmapGeocoder:
    return AmapGeocoder("test-key", base_url=server.url, retries=0, min_interval_s=0, **kw)


def test_down_provider_falls_back_with_a_warning(caplog):
    with fake_amap() as server:
        server.set_default("/v3/geocode/geo", Reply(503))
        chain = GeocoderChain([amap(server), OfflineGeocoder()])
        with caplog.at_level(logging.WARNING):
            result = chain.geocode("柳州市鱼峰区天马街道")
    assert result.provider == "offline" and result.precision == "township"
    assert any("amap failed" in r.getMessage() for r in caplog.records)
    assert "test-key" not in caplog.text


def test_garbage_answer_falls_back():
    with fake_amap("garbage.html") as server:
        result = GeocoderChain([amap(server), OfflineGeocoder()]).geocode("融水县")
    assert result.provider == "offline"


def test_finer_online_result_wins_over_offline():
    with fake_amap() as server:
        chain = GeocoderChain([OfflineGeocoder(), amap(server)], good_enough="street")
        result = chain.geocode("北京市朝阳区阜通东大街6号")
    assert result.provider == "amap" and result.precision == "exact"
    # Amap answers in GCJ-02; the result is WGS-84.
    expected = crs.gcj02_to_wgs84(116.480881, 39.989410)
    assert crs.distance_m(result.lon, result.lat, *expected) < 0.01


def test_good_enough_offline_stops_the_chain():
    with fake_amap() as server:
        chain = GeocoderChain([OfflineGeocoder(), amap(server)], good_enough="township")
        assert chain.geocode("柳州市鱼峰区天马街道").provider == "offline"
        assert server.requests == []  # never asked


def test_every_provider_failing_gives_all_reasons():
    with (
        fake_amap("amap_err_invalid_key.json") as server,
        fake_tianditu("tianditu_empty.json") as tdt,
    ):
        from geo.geocode.tianditu import TiandituGeocoder

        chain = GeocoderChain(
            [
                amap(server),
                TiandituGeocoder("k", base_url=tdt.url, retries=0, min_interval_s=0),
            ]
        )
        with pytest.raises(GeocodeNotFound) as info:
            chain.geocode("某地址")
    assert "amap failed" in info.value.message and "tianditu" in info.value.message


def test_registry_builds_configured_chain(tmp_path):
    with fake_amap() as server:
        settings = Settings(
            instance_path=tmp_path,
            geocoders="amap,offline",
            amap_key="k",
            amap_url=server.url,
            geocode_retries=0,
        )
        chain = build_geocoder(settings)
        assert [p.name for p in chain.providers] == ["amap", "offline"]
        first = chain.geocode("北京市朝阳区阜通东大街6号")
        again = chain.geocode("北京市朝阳区阜通东大街6号")
        assert first.lon == again.lon and len(server.requests) == 1  # cached
        assert server.last.query["key"] == "k"
    assert (tmp_path / "geocode-cache.sqlite").exists()
    with pytest.raises(Exception, match="needs YIZHAN_AMAP_KEY"):
        build_geocoder(Settings(geocoders="amap"))
    with pytest.raises(Exception, match="unknown geocoder baidu"):
        build_geocoder(Settings(geocoders="baidu"))


def test_cli_uses_configured_online_provider(tmp_path):
    with fake_amap() as server:
        env = {
            **os.environ,
            "YIZHAN_AMAP_KEY": "k",
            "YIZHAN_AMAP_URL": server.url,
            "YIZHAN_INSTANCE_PATH": str(tmp_path),
        }
        proc = cli("geocode", "--providers", "amap,offline", "北京市朝阳区阜通东大街6号", env=env)
    doc = json.loads(proc.stdout)
    assert doc["provider"] == "amap" and doc["precision"] == "exact"


@pytest.mark.both_backends  # the rate limit's buckets live in the database
def test_api_geocode_and_rate_limit(db_url):
    from webapp import create_app
    from webapp.settings import WebSettings

    app = create_app(
        {
            "DATABASE_URL": db_url,
            "SETTINGS": WebSettings(geocode_rate_per_minute=3),
        }
    )
    client = app.test_client()
    ok = client.get("/api/geocode?q=柳州市融水县")
    assert ok.status_code == 200 and ok.get_json()["codes"]["county_code"] == "450225"
    missing = client.get("/api/geocode?q=hello")
    assert missing.status_code == 404 and "no Chinese" in missing.get_json()["error"]["message"]
    long = client.get("/api/geocode?q=" + "柳" * 300)
    assert long.status_code == 400 and long.get_json()["error"]["parameter"] == "q"
    limited = client.get("/api/geocode?q=柳州市融水县")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    close_app(app)


def test_rate_limiter_refills():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.check("a")
    with pytest.raises(RateLimited):
        limiter.check("a")
    limiter.check("b")  # another client has its own bucket
    now[0] += 1.0
    limiter.check("a")  # one token back after a second
