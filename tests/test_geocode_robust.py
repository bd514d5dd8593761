"""The offline geocoder never raises on address text except with its documented errors.

Property-based tests (hypothesis) build address-shaped text from the gazetteer's own units
with realistic noise; a seeded corpus of 10,000 addresses (``tests/address_corpus.py``,
``random.Random(42)``) is run whole, and for its clean rows the unit it was built from must
be found.
"""

from __future__ import annotations

import contextlib

import pytest
from address_corpus import BUILDINGS, ROADS, STRAY, ZONES, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import GeocodeNotFound
from geo.gazetteer import default_gazetteer
from geo.geocode import OfflineGeocoder

G = default_gazetteer()
GEOCODER = OfflineGeocoder(G)
UNITS = sorted((d for d in G.units if d.level != "village"), key=lambda d: d.code)
SHORT = sorted({a for a in G.frame["aliases"].str.split("|").explode().dropna() if len(a) >= 2})
SUFFIXES = ("省", "市", "区", "县", "镇", "乡", "街道", "地区", "自治县", "市辖区", "")


def _geocode(text: str) -> None:
    """Parse and geocode; only the documented "not found" error may come out."""
    G.parse(text)
    with contextlib.suppress(GeocodeNotFound):
        GEOCODER.geocode(text)


noise = st.one_of(
    st.sampled_from(ZONES),
    st.builds(lambda r, n: f"{r}{n}号", st.sampled_from(ROADS), st.integers(0, 9999)),
    st.sampled_from(BUILDINGS),
    st.text(alphabet=STRAY + "路号栋单元室村组", min_size=1, max_size=3),
    st.builds(lambda s, x: s + x, st.sampled_from(SHORT), st.sampled_from(SUFFIXES)),
)


@st.composite
def address_shaped(draw) -> str:
    """A unit's path, written with levels dropped, repeated or shortened, with noise between."""
    unit = draw(st.sampled_from(UNITS))
    parts: list[str] = []
    for level, d in G.path(unit).items():
        if level != unit.level and draw(st.booleans()):
            continue  # a level left out
        parts.append(d.name)
        if draw(st.integers(0, 9)) == 0:
            parts.append(d.name)  # written twice
        if draw(st.integers(0, 3)) == 0:
            parts.append(draw(noise))
    parts.extend(draw(st.lists(noise, max_size=3)))
    text = "".join(parts)
    cut = draw(st.integers(1, max(1, len(text))))
    return text[:cut] if draw(st.booleans()) else text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(address_shaped())
def test_address_shaped_text_never_raises(text):
    _geocode(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(noise, st.sampled_from([d.name for d in UNITS[:4000]])), max_size=6))
def test_any_sequence_of_names_and_noise_never_raises(pieces):
    _geocode("".join(pieces))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_raises(text):
    with contextlib.suppress(GeocodeNotFound):
        GEOCODER.geocode(text)


@pytest.mark.parametrize(
    "text",
    [
        "安徽省马鞍山市博望区经济开发区",
        "柳州市柳北区高新区",
        "柳州市柳北区锦绣街道工业园区",
        "北京市北京市",
        "北京市市辖区",
        "柳州地区",
        "台湾省",
    ],
)
def test_known_crashes(text):
    _geocode(text)


def test_corpus_of_ten_thousand_addresses():
    corpus = build(G, 10_000)
    assert len(corpus) == 10_000
    missed = []
    for a in corpus:
        try:
            result = GEOCODER.geocode(a.text)
        except GeocodeNotFound as exc:
            if a.clean:
                missed.append((a.text, a.code, exc.message))
            continue
        if a.clean and result.codes.get(f"{a.level}_code") != a.code:
            missed.append((a.text, a.code, result.codes))
    assert sum(a.clean for a in corpus) > 4000
    assert missed == []
