"""Station model and the open taxonomy of kinds and services."""

from datetime import UTC, datetime

import pytest

from geo.errors import ValidationError
from geo.models import (
    KINDS,
    Service,
    Station,
    StationKind,
    Status,
    parse_kind,
    parse_services,
    parse_status,
)
from geo.settings import Settings


@pytest.mark.parametrize(
    "text, code",
    [
        ("工会爱心驿站", StationKind.REST_STOP),
        ("户外劳动者服务站点", StationKind.REST_STOP),
        ("暖心驿站", StationKind.REST_STOP),
        ("律师站", StationKind.LEGAL_AID),
        ("维权服务站", StationKind.LEGAL_AID),
        ("村级工会服务点", StationKind.VILLAGE_POINT),
        ("职工之家", StationKind.WORKERS_HOME),
        ("农民工工作站", StationKind.MIGRANT_STATION),
        ("人大代表联络站", StationKind.LIAISON_STATION),
        ("帮扶中心", StationKind.ASSISTANCE_CENTRE),
        ("Legal_Aid", StationKind.LEGAL_AID),
        (" rest stop ", StationKind.REST_STOP),
    ],
)
def test_kind_aliases(text, code):
    assert parse_kind(text) == code


def test_unknown_kind_suggests_closest():
    with pytest.raises(ValidationError, match="did you mean 职工之家"):
        parse_kind("职工之屋")
    with pytest.raises(ValidationError, match="kind is empty"):
        parse_kind(" ")


def test_services_split_and_normalise():
    assert parse_services("饮水、热饭；充电 / 爱心妈咪小屋,纳凉/取暖") == tuple(
        sorted(
            [
                Service.DRINKING_WATER,
                Service.HOT_MEAL,
                Service.CHARGING,
                Service.NURSING_ROOM,
                Service.COOLING_HEATING,
            ]
        )
    )
    assert parse_services(["AED", "母婴室"]) == (Service.AED, Service.NURSING_ROOM)
    assert parse_services(None) == ()


def test_status_labels():
    assert parse_status("筹建中") is Status.PLANNED and parse_status("") is Status.OPEN
    with pytest.raises(ValidationError):
        parse_status("也许")


def test_configured_extra_kinds_extend_the_taxonomy():
    settings = Settings.from_env({"YIZHAN_EXTRA_KINDS": "port_station:港口驿站:Port station"})
    try:
        settings.register_taxonomy()
        assert parse_kind("港口驿站") == "port_station"
    finally:
        KINDS.pop("port_station", None)
    with pytest.raises(ValidationError, match="code:中文名:English name"):
        Settings.from_env({"YIZHAN_EXTRA_KINDS": "broken"}).register_taxonomy()


def test_is_open_respects_status_and_china_time():
    s = Station(id="a", name="甲", kind="rest_stop", hours="每天 09:00-17:00")
    assert s.is_open(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) is True  # 10:00 in China
    s.status = Status.CLOSED
    assert s.is_open(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) is False
    unknown = Station(id="b", name="乙", kind="rest_stop", hours="看心情")
    assert unknown.is_open() is None  # unreadable hours are unknown, never "closed"


def test_settings_conversion_errors_name_the_variable():
    with pytest.raises(ValidationError, match="YIZHAN_DUPLICATE_RADIUS_M"):
        Settings.from_env({"YIZHAN_DUPLICATE_RADIUS_M": "fifty"})
    assert Settings.from_env({"YIZHAN_DUPLICATE_RADIUS_M": "20"}).duplicate_radius_m == 20.0
