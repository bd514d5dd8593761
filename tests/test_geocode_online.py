"""Online geocoders (Amap, Tianditu, Nominatim) against loopback fakes of the services.

Every test talks HTTP to a real server on 127.0.0.1 (``tests/fakes.py``) that answers with
the documented answer shapes in ``tests/data/geocode``; no test touches the internet.
Backoff and rate limiting run on a fake clock (no real sleeping), except the two tests that
measure real timeouts and real request spacing.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from fakes import DATA, Reply, fake_amap, fake_nominatim, fake_tianditu

from geo.crs import distance_m, gcj02_to_wgs84, in_china, wgs84_to_gcj02
from geo.errors import GeocodeNotFound, ProviderError
from geo.geocode._http import HttpClient, default_user_agent, mask_secrets, next_midnight
from geo.geocode.amap import AmapGeocoder, admin_codes
from geo.geocode.base import MAX_ADDRESS_CHARS, Geocoder, GeocodeResult
from geo.geocode.cache import GeocodeCache, normalise_address
from geo.geocode.nominatim import NominatimGeocoder, precision_for_rank
from geo.geocode.tianditu import TiandituGeocoder
from geo.models import Precision
from support import free_port

UA = "Yizhan-test/1.0 (+ops@example.org)"
AMAP_KEY = "amap-KEY-0123456789abcdef"
TDT_KEY = "tdt-TK-fedcba9876543210"
DOOR = "北京市朝阳区阜通东大街6号"


def fixture(name: str):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


class FakeClock:
    """Monotonic clock and sleep that only move when slept on; records every sleep."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(clock):
    """``make(cls, server, **kwargs)``: a geocoder on the fake clock, closed after the test."""
    created = []

    def factory(cls, server, **kwargs):
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("rng", random.Random(42))
        kwargs.setdefault("user_agent", UA)
        if cls is AmapGeocoder:
            kwargs.setdefault("key", AMAP_KEY)
        elif cls is TiandituGeocoder:
            kwargs.setdefault("key", TDT_KEY)
        else:  # loopback server: the public server's 1 s minimum does not apply
            kwargs.setdefault("min_interval_s", 0.0)
        geocoder = cls(base_url=server.url, **kwargs)
        created.append(geocoder)
        return geocoder

    yield factory
    for geocoder in created:
        geocoder.close()


@pytest.fixture
def cache(tmp_path):
    wall = FakeClock(now=1.7e9)
    with GeocodeCache(tmp_path / "geocode.sqlite", clock=wall) as c:
        c.wall = wall
        yield c


PROVIDERS = [
    (AmapGeocoder, fake_amap),
    (TiandituGeocoder, fake_tianditu),
    (NominatimGeocoder, fake_nominatim),
]


# =============================================================================================
# Common behaviour
# =============================================================================================


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_providers_follow_the_protocol(make, cls, fake):
    with fake() as server:
        geocoder = make(cls, server)
        assert isinstance(geocoder, Geocoder)
        assert geocoder.name in ("amap", "tianditu", "nominatim")


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
@pytest.mark.parametrize("text", ["", "   \t ", "路" * (MAX_ADDRESS_CHARS + 1)])
def test_empty_or_long_input_is_not_found_without_a_request(make, cls, fake, text):
    with fake() as server:
        geocoder = make(cls, server)
        with pytest.raises(GeocodeNotFound):
            geocoder.geocode(text)
        assert server.requests == []


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_input_of_exactly_the_maximum_length_is_sent(make, cls, fake):
    with fake() as server:
        geocoder = make(cls, server)
        geocoder.geocode("路" * MAX_ADDRESS_CHARS)
        assert len(server.requests) == 1


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_503_twice_then_success_is_retried_with_growing_backoff(make, clock, cls, fake):
    with fake() as server:
        geocoder = make(cls, server, retries=2)
        server.script(Reply(503), Reply(503, b"<html>busy</html>", content_type="text/html"))
        result = geocoder.geocode("柳州市鱼峰区德润路12号")
        assert isinstance(result, GeocodeResult)
        assert len(server.requests) == 3
        # jittered exponential backoff: 0.5 s * 2**n, between half and all of it
        assert 0.25 <= clock.sleeps[0] <= 0.5
        assert 0.5 <= clock.sleeps[1] <= 1.0


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_retries_exhausted_raise_a_retryable_error(make, clock, cls, fake):
    with fake() as server:
        server.set_default(next(iter(server.routes)), Reply(503))
        geocoder = make(cls, server, retries=2)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert caught.value.retryable is True
        assert caught.value.provider == cls.name
        assert caught.value.details["attempts"] == 3
        assert caught.value.details["status"] == 503
        assert len(server.requests) == 3
        assert len(clock.sleeps) == 2


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_429_retry_after_is_honoured(make, clock, cls, fake):
    with fake() as server:
        geocoder = make(cls, server)
        server.script(Reply(429, headers={"Retry-After": "3"}))
        geocoder.geocode("柳州市鱼峰区德润路12号")
        assert len(server.requests) == 2
        assert clock.sleeps == [3.0]


def test_retry_after_http_date_is_honoured(clock):
    with fake_amap() as server:
        client = HttpClient(
            "amap", sleep=clock.sleep, clock=clock, wall_clock=lambda: 1_700_000_000.0
        )
        server.script(Reply(503, headers={"Retry-After": "Tue, 14 Nov 2023 22:13:25 GMT"}))
        client.get_json(server.url + "/v3/geocode/geo", {"key": "k"})
        client.close()
        # 2023-11-14T22:13:25Z is 1_700_000_005: five seconds after the wall clock
        assert clock.sleeps == [5.0]


def test_a_very_long_retry_after_fails_at_once_and_says_so(make, clock):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, retries=3)
        server.script(Reply(429, headers={"Retry-After": "600"}))
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode(DOOR)
        assert caught.value.retryable is True
        assert caught.value.details["retry_after_s"] == 600
        assert len(server.requests) == 1
        assert clock.sleeps == []


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_timeout_is_a_retryable_provider_error(make, cls, fake):
    with fake() as server:
        server.set_default(next(iter(server.routes)), Reply(200, b"[]", delay_s=3.0))
        geocoder = make(cls, server, timeout_s=0.1, retries=1)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert caught.value.retryable is True
        assert "no answer within 0.1 s" in caught.value.message
        assert len(server.requests) == 2


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_connection_refused_is_retryable(clock, cls, fake):
    kwargs = {"key": "k"} if cls is not NominatimGeocoder else {}
    with (
        cls(
            base_url=f"http://127.0.0.1:{free_port()}",
            retries=1,
            min_interval_s=0.0,
            sleep=clock.sleep,
            clock=clock,
            **kwargs,
        ) as geocoder,
        pytest.raises(ProviderError) as caught,
    ):
        geocoder.geocode("柳州市鱼峰区德润路12号")
    assert caught.value.retryable is True
    assert "connection failed" in caught.value.message
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
@pytest.mark.parametrize("body", ["garbage.html", "garbage_truncated.json"])
def test_garbage_is_a_non_retryable_provider_error(make, cls, fake, body):
    with fake() as server:
        server.script(Reply.file(body))
        geocoder = make(cls, server)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert caught.value.retryable is False
        assert "not JSON" in caught.value.message
        assert len(server.requests) == 1


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_json_of_the_wrong_shape_is_a_non_retryable_provider_error(make, cls, fake):
    with fake() as server:
        wrong = b'"OK"' if cls is NominatimGeocoder else b"[1, 2, 3]"
        server.script(Reply(200, wrong))
        geocoder = make(cls, server)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert caught.value.retryable is False
        assert "unexpected shape" in caught.value.message
        assert len(server.requests) == 1


@pytest.mark.parametrize(("cls", "fake"), PROVIDERS)
def test_min_interval_on_a_fake_clock(make, clock, cls, fake):
    with fake() as server:
        geocoder = make(cls, server, min_interval_s=1.5)
        for i in range(3):
            geocoder.geocode(f"柳州市鱼峰区德润路{i}号")
        assert len(server.requests) == 3
        assert clock.sleeps == [1.5, 1.5]


def test_min_interval_holds_across_threads(make, clock):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, min_interval_s=0.7)
        threads = [
            threading.Thread(target=geocoder.geocode, args=(f"柳州市德润路{i}号",))
            for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(server.requests) == 6
        assert clock.sleeps == [pytest.approx(0.7)] * 5


class TimedSession(requests.Session):
    """A session that records when each request starts (client side)."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[float] = []

    def get(self, *args, **kwargs):
        self.starts.append(time.monotonic())
        return super().get(*args, **kwargs)


def test_min_interval_in_real_time():
    with fake_amap() as server, TimedSession() as session:
        geocoder = AmapGeocoder(AMAP_KEY, base_url=server.url, min_interval_s=0.05, session=session)
        for i in range(4):
            geocoder.geocode(f"柳州市德润路{i}号")
        gaps = [b - a for a, b in itertools.pairwise(session.starts)]
        assert len(gaps) == 3
        assert min(gaps) >= 0.05 - 0.005


# ---------------------------------------------------------------------------------------------
# Keys never logged


def test_amap_key_never_appears_in_logs_or_errors(make, caplog):
    caplog.set_level(logging.DEBUG)
    errors = []
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server)
        geocoder.geocode(DOOR)
        geocoder.reverse(109.4227, 24.3687)
        server.script(Reply.file("amap_err_qps.json"))
        geocoder.geocode("柳州市鱼峰区德润路12号")
        server.script(Reply.file("garbage.html"))
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市城中区文昌路")
        errors.append(caught.value)
        server.script(Reply.file("amap_err_invalid_key.json"))
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("百色市右江区")
        errors.append(caught.value)
    with AmapGeocoder(
        AMAP_KEY, base_url=f"http://127.0.0.1:{free_port()}", retries=1, sleep=lambda s: None
    ) as offline:
        with pytest.raises(ProviderError) as caught:
            offline.geocode(DOOR)
        errors.append(caught.value)
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # request lines logged
    assert "key=***" in caplog.text  # ... with the key masked
    assert AMAP_KEY not in caplog.text
    for error in errors:
        assert AMAP_KEY not in str(error)
        assert AMAP_KEY not in json.dumps(error.to_dict(), ensure_ascii=False)


def test_tianditu_key_never_appears_in_logs_or_errors(make, caplog):
    caplog.set_level(logging.DEBUG)
    errors = []
    with fake_tianditu() as server:
        geocoder = make(TiandituGeocoder, server)
        geocoder.geocode("北京市海淀区莲花池西路28号")
        server.script(Reply(403, b"<html>forbidden</html>", content_type="text/html"))
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        errors.append(caught.value)
    with TiandituGeocoder(
        TDT_KEY, base_url=f"http://127.0.0.1:{free_port()}", retries=0
    ) as offline:
        with pytest.raises(ProviderError) as caught:
            offline.geocode(DOOR)
        errors.append(caught.value)
    assert "tk=***" in caplog.text
    assert TDT_KEY not in caplog.text
    for error in errors:
        assert TDT_KEY not in str(error)
        assert TDT_KEY not in json.dumps(error.to_dict(), ensure_ascii=False)


def test_mask_secrets():
    url = "https://x/v3/geocode/geo?key=abc123&address=%E5%8C%97&tk=zzz&monkey=ok"
    assert (
        mask_secrets(url) == "https://x/v3/geocode/geo?key=***&address=%E5%8C%97&tk=***&monkey=ok"
    )
    assert mask_secrets("error for abc/123 at host", ["abc/123"]) == "error for *** at host"
    assert mask_secrets("url: /p?x=abc%2F123", ["abc/123"]) == "url: /p?x=***"


def test_default_user_agent_identifies_the_application():
    assert default_user_agent().startswith("Yizhan/")
    assert default_user_agent("ops@example.org").endswith("(+ops@example.org)")


# =============================================================================================
# Amap
# =============================================================================================


def test_amap_request_is_exactly_as_documented(make):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server)
        geocoder.geocode(DOOR, city="北京")
        request = server.last
        assert request.path == "/v3/geocode/geo"
        assert request.query_lists == {
            "key": [AMAP_KEY],
            "address": [DOOR],
            "city": ["北京"],
            "output": ["JSON"],
        }
        assert request.headers["User-Agent"] == UA
        geocoder.geocode("柳州市鱼峰区德润路12号")
        assert set(server.last.query) == {"key", "address", "output"}


def test_amap_converts_gcj02_to_wgs84(make):
    gcj = tuple(
        float(v) for v in fixture("amap_geo_doorplate.json")["geocodes"][0]["location"].split(",")
    )
    with fake_amap() as server:
        result = make(AmapGeocoder, server).geocode(DOOR)
    expected = gcj02_to_wgs84(*gcj)
    assert (result.lon, result.lat) == pytest.approx(expected, abs=1e-9)
    # the GCJ-02 offset in Beijing is several hundred metres; converting back gives the input
    assert 300 < distance_m(result.lon, result.lat, *gcj) < 700
    assert wgs84_to_gcj02(result.lon, result.lat) == pytest.approx(gcj, abs=1e-7)
    assert result.provider == "amap"
    assert result.precision is Precision.EXACT
    assert result.codes == {"province_code": "110000", "county_code": "110105"}
    assert result.names == {"province": "北京市", "county": "朝阳区"}
    assert result.formatted == DOOR
    assert result.rest == "阜通东大街6号"
    assert result.query == DOOR
    assert result.ambiguous is False


@pytest.mark.parametrize(
    ("name", "precision", "codes"),
    [
        ("amap_geo_residential.json", Precision.EXACT, ("450000", "450200", "450203")),
        ("amap_geo_poi.json", Precision.EXACT, ("450000", "451000", "451002")),
        ("amap_geo_road.json", Precision.STREET, ("450000", "450200", "450202")),
        ("amap_geo_village.json", Precision.VILLAGE, ("450000", "450200", "450226")),
        ("amap_geo_township.json", Precision.TOWNSHIP, ("450000", "451000", "451003")),
        ("amap_geo_county.json", Precision.COUNTY, ("450000", "451000", "451002")),
        ("amap_geo_prefecture.json", Precision.PREFECTURE, ("450000", "450200", None)),
    ],
)
def test_amap_levels_map_to_precision_and_codes(make, name, precision, codes):
    with fake_amap(default=name) as server:
        result = make(AmapGeocoder, server).geocode("测试地址")
    assert result.precision is precision
    province, prefecture, county = codes
    assert result.codes.get("province_code") == province
    assert result.codes.get("prefecture_code") == prefecture
    assert result.codes.get("county_code") == county
    geocode = fixture(name)["geocodes"][0]
    assert result.names["province"] == geocode["province"]
    assert result.formatted == geocode["formatted_address"]
    assert 0 < result.confidence <= 1
    assert in_china(result.lon, result.lat)


def test_amap_confidence_falls_with_the_level(make):
    confidences = []
    for name in [
        "amap_geo_poi.json",
        "amap_geo_road.json",
        "amap_geo_village.json",
        "amap_geo_township.json",
        "amap_geo_county.json",
        "amap_geo_prefecture.json",
    ]:
        with fake_amap(default=name) as server:
            confidences.append(make(AmapGeocoder, server).geocode("测试地址").confidence)
    assert confidences == sorted(confidences, reverse=True)
    assert len(set(confidences)) == len(confidences)


def test_amap_township_name_is_kept(make):
    with fake_amap(default="amap_geo_township.json") as server:
        result = make(AmapGeocoder, server).geocode("田阳区那坡镇")
    assert result.names["township"] == "那坡镇"
    assert result.names["prefecture"] == "百色市"


@pytest.mark.parametrize("name", ["amap_geo_province.json", "amap_geo_none.json"])
def test_amap_province_level_or_no_result_is_not_found(make, name):
    with fake_amap(default=name) as server:
        with pytest.raises(GeocodeNotFound):
            make(AmapGeocoder, server).geocode("广西")
        assert len(server.requests) == 1


def test_amap_several_matches_are_ambiguous(make):
    with fake_amap(default="amap_geo_two.json") as server:
        result = make(AmapGeocoder, server).geocode("朝阳区")
    assert result.ambiguous is True
    assert [c["county_code"] for c in result.candidates] == ["110105", "220104"]
    assert result.codes["county_code"] == "110105"


def test_amap_bad_key_is_not_retried_and_stops_the_provider(make, caplog):
    with fake_amap(default="amap_err_invalid_key.json") as server:
        geocoder = make(AmapGeocoder, server, retries=3)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode(DOOR)
        assert caught.value.retryable is False
        assert caught.value.details["code"] == "10001"
        assert "key" in caught.value.message
        assert len(server.requests) == 1
        with pytest.raises(ProviderError) as again:
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert again.value.retryable is False
        assert "no request sent" in again.value.message
        assert len(server.requests) == 1
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_amap_daily_quota_is_not_retried_until_midnight(make, clock):
    with fake_amap(default="amap_err_daily_quota.json") as server:
        geocoder = make(AmapGeocoder, server, retries=3)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode(DOOR)
        error = caught.value
        assert error.retryable is False
        assert "00:00" in error.message
        retry_at = datetime.fromisoformat(error.details["retry_at"])
        assert (retry_at.hour, retry_at.minute, retry_at.second) == (0, 0, 0)
        assert retry_at.utcoffset() == timedelta(hours=8)  # China time
        assert 0 < (retry_at - datetime.now(UTC)).total_seconds() <= 24 * 3600
        assert len(server.requests) == 1
        with pytest.raises(ProviderError):
            geocoder.geocode(DOOR)
        assert len(server.requests) == 1
        clock.now += 24 * 3600 + 1  # the next day
        server.set_default("/v3/geocode/geo", Reply.file("amap_geo_doorplate.json"))
        assert geocoder.geocode(DOOR).precision is Precision.EXACT
        assert len(server.requests) == 2


def test_amap_qps_throttle_in_the_body_is_retried(make, clock):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server)
        server.script(Reply.file("amap_err_qps.json"), Reply.file("amap_err_qps.json"))
        assert geocoder.geocode(DOOR).precision is Precision.EXACT
        assert len(server.requests) == 3
        assert len(clock.sleeps) == 2


def test_amap_qps_throttle_exhausted_is_retryable(make):
    with fake_amap(default="amap_err_qps.json") as server:
        with pytest.raises(ProviderError) as caught:
            make(AmapGeocoder, server, retries=1).geocode(DOOR)
        assert caught.value.retryable is True
        assert caught.value.details["code"] == "10021"
        assert len(server.requests) == 2


def test_amap_engine_data_error_is_not_retried(make):
    with fake_amap(default="amap_err_engine.json") as server:
        with pytest.raises(ProviderError) as caught:
            make(AmapGeocoder, server).geocode("&&&")
        assert caught.value.retryable is False
        assert len(server.requests) == 1


def test_amap_malformed_location_is_a_provider_error(make):
    body = json.dumps(
        {
            "status": "1",
            "info": "OK",
            "count": "1",
            "geocodes": [{"location": "abc", "level": "门牌号"}],
        }
    ).encode()
    with fake_amap() as server:
        server.script(Reply(200, body))
        with pytest.raises(ProviderError) as caught:
            make(AmapGeocoder, server).geocode(DOOR)
        assert caught.value.retryable is False
        assert "malformed position" in caught.value.message


def test_amap_reverse_sends_gcj02_and_returns_the_township(make):
    lon, lat = 109.4227, 24.3687
    with fake_amap() as server:
        result = make(AmapGeocoder, server).reverse(lon, lat)
        request = server.last
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert request.path == "/v3/geocode/regeo"
    assert request.query_lists == {
        "key": [AMAP_KEY],
        "location": [f"{g_lon:.6f},{g_lat:.6f}"],
        "extensions": ["base"],
        "output": ["JSON"],
    }
    assert (result.lon, result.lat) == (lon, lat)
    assert result.precision is Precision.TOWNSHIP
    assert result.codes == {
        "province_code": "450000",
        "prefecture_code": "450200",
        "county_code": "450202",
        "township_code": "450202001000",
    }
    assert result.names["township"] == "城中街道"


def test_amap_reverse_outside_china_sends_nothing(make):
    with fake_amap() as server:
        with pytest.raises(GeocodeNotFound):
            make(AmapGeocoder, server).reverse(105.854041, 21.028333)  # Hanoi
        assert server.requests == []


@pytest.mark.parametrize(
    ("adcode", "expected"),
    [
        ("110105", {"province_code": "110000", "county_code": "110105"}),
        (
            "450203",
            {"province_code": "450000", "prefecture_code": "450200", "county_code": "450203"},
        ),
        ("469001", {"province_code": "460000", "county_code": "469001"}),
        ("450200", {"province_code": "450000", "prefecture_code": "450200"}),
        ("441900", {"province_code": "440000", "prefecture_code": "441900"}),
        ("450000", {"province_code": "450000"}),
        ("", {}),
        ("45020", {}),
        ("abcdef", {}),
    ],
)
def test_admin_codes(adcode, expected):
    assert admin_codes(adcode) == expected


def test_amap_requires_a_key():
    with pytest.raises(ValueError):
        AmapGeocoder("  ")


# =============================================================================================
# Tianditu
# =============================================================================================


def test_tianditu_request_is_exactly_as_documented(make):
    with fake_tianditu() as server:
        geocoder = make(TiandituGeocoder, server)
        geocoder.geocode("北京市海淀区莲花池西路28号")
        request = server.last
        assert request.path == "/geocoder"
        assert set(request.query_lists) == {"ds", "tk"}
        assert request.query["tk"] == TDT_KEY
        assert json.loads(request.query["ds"]) == {"keyWord": "北京市海淀区莲花池西路28号"}
        assert request.headers["User-Agent"] == UA
        geocoder.geocode("德润路12号", city="柳州市")
        assert json.loads(server.last.query["ds"]) == {"keyWord": "柳州市德润路12号"}
        geocoder.geocode("柳州市鱼峰区德润路12号", city="柳州市")
        assert json.loads(server.last.query["ds"]) == {"keyWord": "柳州市鱼峰区德润路12号"}


def test_tianditu_door_address_is_used_unchanged(make):
    location = fixture("tianditu_door.json")["location"]
    with fake_tianditu() as server:
        result = make(TiandituGeocoder, server).geocode("北京市海淀区莲花池西路28号")
    assert (result.lon, result.lat) == (float(location["lon"]), float(location["lat"]))
    assert result.precision is Precision.EXACT
    assert result.confidence == location["score"] / 100
    assert result.formatted == location["keyWord"]
    assert result.codes == {} and result.names == {}


def test_tianditu_score_is_the_confidence(make):
    with fake_tianditu(default="tianditu_poi.json") as server:
        result = make(TiandituGeocoder, server).geocode("柳州市鱼峰区工人文化宫")
    assert result.precision is Precision.EXACT
    assert result.confidence == pytest.approx(
        fixture("tianditu_poi.json")["location"]["score"] / 100
    )


def test_tianditu_undocumented_level_without_score_is_unknown(make):
    with fake_tianditu(default="tianditu_place.json") as server:
        result = make(TiandituGeocoder, server).geocode(
            "北京市延庆区延庆镇莲花池村前街50夕阳红养老院"
        )
    assert result.precision is Precision.UNKNOWN
    assert result.confidence == 0.3


def test_tianditu_status_101_is_not_found(make):
    with fake_tianditu(default="tianditu_empty.json") as server:
        with pytest.raises(GeocodeNotFound):
            make(TiandituGeocoder, server).geocode("不存在的地方")
        assert len(server.requests) == 1


def test_tianditu_status_404_is_a_non_retryable_error(make):
    with fake_tianditu(default="tianditu_error.json") as server:
        with pytest.raises(ProviderError) as caught:
            make(TiandituGeocoder, server).geocode("柳州市")
        assert caught.value.retryable is False
        assert caught.value.details["code"] == "404"
        assert len(server.requests) == 1


def test_tianditu_forbidden_key_is_not_retried_and_stops_the_provider(make):
    with fake_tianditu() as server:
        server.set_default("/geocoder", Reply(403, b"forbidden", content_type="text/plain"))
        geocoder = make(TiandituGeocoder, server, retries=3)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市")
        assert caught.value.retryable is False
        assert caught.value.details["status"] == 403
        with pytest.raises(ProviderError):
            geocoder.geocode("百色市")
        assert len(server.requests) == 1


# =============================================================================================
# Nominatim
# =============================================================================================


def test_nominatim_request_is_exactly_as_documented(make):
    with fake_nominatim() as server:
        geocoder = make(NominatimGeocoder, server)
        geocoder.geocode("德润路12号", city="柳州市")
        request = server.last
        assert request.path == "/search"
        assert request.query_lists == {
            "q": ["德润路12号, 柳州市"],
            "format": ["jsonv2"],
            "addressdetails": ["1"],
            "limit": ["1"],
            "countrycodes": ["cn"],
            "accept-language": ["zh"],
        }
        assert request.headers["User-Agent"] == UA


def test_nominatim_house_is_exact_wgs84(make):
    place = fixture("nominatim_house.json")[0]
    with fake_nominatim() as server:
        result = make(NominatimGeocoder, server).geocode("柳州市鱼峰区德润路12号")
    assert (result.lon, result.lat) == (float(place["lon"]), float(place["lat"]))
    assert result.precision is Precision.EXACT
    assert result.names == {
        "province": "广西壮族自治区",
        "prefecture": "柳州市",
        "county": "鱼峰区",
    }
    assert result.rest == "德润路12"
    assert result.formatted == place["display_name"]
    assert result.codes == {}


@pytest.mark.parametrize(
    ("name", "precision"),
    [("nominatim_road.json", Precision.STREET), ("nominatim_village.json", Precision.VILLAGE)],
)
def test_nominatim_rank_gives_the_precision(make, name, precision):
    with fake_nominatim(default=name) as server:
        result = make(NominatimGeocoder, server).geocode("测试地址")
    assert result.precision is precision


def test_nominatim_village_names(make):
    with fake_nominatim(default="nominatim_village.json") as server:
        result = make(NominatimGeocoder, server).geocode("程阳村")
    assert result.names["village"] == "程阳村"
    assert result.names["township"] == "林溪镇"
    assert result.names["county"] == "三江侗族自治县"


@pytest.mark.parametrize(
    "name", ["nominatim_state.json", "nominatim_abroad.json", "nominatim_empty.json"]
)
def test_nominatim_coarse_abroad_or_empty_is_not_found(make, name):
    with fake_nominatim(default=name) as server:
        with pytest.raises(GeocodeNotFound) as caught:
            make(NominatimGeocoder, server).geocode("测试地址")
        assert len(server.requests) == 1
    if name == "nominatim_abroad.json":
        assert "outside China" in caught.value.message


def test_nominatim_error_object_is_a_provider_error(make):
    with fake_nominatim() as server:
        server.script(Reply(200, b'{"error": {"code": 400, "message": "Nothing to search for."}}'))
        with pytest.raises(ProviderError) as caught:
            make(NominatimGeocoder, server).geocode("x")
        assert "Nothing to search for." in caught.value.message
        assert caught.value.retryable is False


def test_nominatim_blocked_client_is_not_retried(make):
    with fake_nominatim() as server:
        server.set_default("/search", Reply(403, b"<html>blocked</html>", content_type="text/html"))
        geocoder = make(NominatimGeocoder, server)
        with pytest.raises(ProviderError) as caught:
            geocoder.geocode("柳州市")
        assert caught.value.retryable is False
        assert "User-Agent" in caught.value.message
        with pytest.raises(ProviderError):
            geocoder.geocode("百色市")
        assert len(server.requests) == 1


def test_nominatim_public_server_requires_one_second_between_requests():
    with pytest.raises(ValueError, match="1 request per second"):
        NominatimGeocoder(min_interval_s=0.5)
    with NominatimGeocoder() as geocoder:  # the default respects the policy
        assert geocoder._http.min_interval_s == 1.0
        assert geocoder._http.user_agent.startswith("Yizhan/")


@pytest.mark.parametrize(
    ("rank", "precision"),
    [
        (30, Precision.EXACT),
        (26, Precision.STREET),
        (19, Precision.VILLAGE),
        (17, Precision.TOWNSHIP),
        (16, Precision.PREFECTURE),
        (12, Precision.COUNTY),
        (8, None),
        (None, Precision.UNKNOWN),
    ],
)
def test_precision_for_rank(rank, precision):
    assert precision_for_rank(rank) is precision


# =============================================================================================
# Cache
# =============================================================================================


def test_normalise_address():
    assert normalise_address("北京市 朝阳区　阜通东大街６号") == "北京市朝阳区阜通东大街6号"
    assert normalise_address(" ＡＢＣ Road ") == "abcroad"
    assert normalise_address(None) == ""


def test_cache_hit_avoids_a_second_request(make, cache):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, cache=cache)
        first = geocoder.geocode(DOOR, city="北京")
        second = geocoder.geocode("北京市 朝阳区 阜通东大街６号", city=" 北京 ")
        assert len(server.requests) == 1
    assert second == first
    stats = cache.stats()
    assert stats["hits"] == 1 and stats["entries"] == 1 and stats["by_provider"] == {"amap": 1}


def test_cache_keeps_not_found_for_a_shorter_time(make, cache):
    with fake_amap(default="amap_geo_none.json") as server:
        geocoder = make(AmapGeocoder, server, cache=cache)
        with pytest.raises(GeocodeNotFound) as first:
            geocoder.geocode("没有这个地方")
        with pytest.raises(GeocodeNotFound) as second:
            geocoder.geocode("没有这个地方")
        assert len(server.requests) == 1
        assert second.value.message == first.value.message
        cache.wall.now += cache.negative_ttl_s + 1  # the "not found" expires
        with pytest.raises(GeocodeNotFound):
            geocoder.geocode("没有这个地方")
        assert len(server.requests) == 2
    assert cache.stats()["negative_hits"] == 1


def test_cache_entries_expire(make, cache):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, cache=cache)
        geocoder.geocode(DOOR)
        cache.wall.now += cache.ttl_s - 10
        geocoder.geocode(DOOR)
        assert len(server.requests) == 1
        cache.wall.now += 20
        assert cache.stats()["expired"] == 1
        geocoder.geocode(DOOR)
        assert len(server.requests) == 2


def test_service_failures_are_not_cached(make, cache):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, cache=cache, retries=0)
        server.script(Reply(503))
        with pytest.raises(ProviderError):
            geocoder.geocode(DOOR)
        assert geocoder.geocode(DOOR).precision is Precision.EXACT
        assert len(server.requests) == 2


def test_cached_answers_are_served_while_the_provider_is_stopped(make, cache):
    with fake_amap() as server:
        geocoder = make(AmapGeocoder, server, cache=cache)
        geocoder.geocode(DOOR)
        server.set_default("/v3/geocode/geo", Reply.file("amap_err_invalid_key.json"))
        with pytest.raises(ProviderError):
            geocoder.geocode("柳州市鱼峰区德润路12号")
        assert geocoder.geocode(DOOR).codes["county_code"] == "110105"
        assert len(server.requests) == 2


def test_cache_is_per_provider_and_city(cache):
    result = GeocodeResult(109.4, 24.3, Precision.COUNTY, "amap", codes={"county_code": "450203"})
    cache.put("amap", "鱼峰区", "柳州", result)
    assert cache.get("amap", "鱼峰区", "柳州").result == result
    assert cache.get("amap", "鱼峰区", None) is None
    assert cache.get("tianditu", "鱼峰区", "柳州") is None


def test_cache_persists_and_uses_wal(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    result = GeocodeResult(109.4, 24.3, Precision.EXACT, "tianditu", confidence=0.87)
    with GeocodeCache(path) as first:
        first.put("tianditu", "柳州市工人文化宫", None, result)
        first.put_not_found("tianditu", "无此地", None, "tianditu: no match")
        mode = first._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with GeocodeCache(path) as second:
        assert second.get("tianditu", "柳州市工人文化宫").result == result
        missing = second.get("tianditu", "无此地")
        assert missing.result is None and missing.reason == "tianditu: no match"


def test_cache_drops_undecodable_entries(cache):
    cache.put("amap", "x", None, GeocodeResult(1.0, 2.0, Precision.EXACT, "amap"))
    cache._conn.execute("UPDATE geocode_cache SET result_json = '{\"bogus\": 1}'")
    assert cache.get("amap", "x") is None
    assert cache.stats()["entries"] == 0


def test_cache_purge_and_clear(cache):
    cache.put("amap", "a", None, GeocodeResult(1.0, 2.0, Precision.EXACT, "amap"))
    cache.put_not_found("nominatim", "b", None, "no match")
    cache.wall.now += cache.negative_ttl_s + 1
    assert cache.purge_expired() == 1
    assert cache.stats()["by_provider"] == {"amap": 1}
    assert cache.clear() == 1


def test_cache_is_thread_safe(cache):
    def work(n: int) -> None:
        for i in range(40):
            address = f"地址{n}-{i}"
            cache.put(
                "amap", address, None, GeocodeResult(100 + n, 30 + i / 100, Precision.EXACT, "amap")
            )
            assert cache.get("amap", address).result.lon == 100 + n

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.stats()["entries"] == 8 * 40


def test_next_midnight_is_in_china_time():
    assert next_midnight(now=datetime(2026, 1, 1, 15, 59, tzinfo=UTC)).isoformat() == (
        "2026-01-02T00:00:00+08:00"
    )
    assert next_midnight(now=datetime(2026, 1, 1, 16, 1, tzinfo=UTC)).isoformat() == (
        "2026-01-03T00:00:00+08:00"
    )
