"""HTTP plumbing shared by the online geocoders (private: the providers are the public API).

This module owns everything between a provider and the wire:

* :class:`HttpClient`: one ``requests.Session`` per provider with an identifying User-Agent
  (:func:`default_user_agent`), a per-request timeout, a minimum interval between requests
  (thread-safe: the start of two requests is never closer than ``min_interval_s``), retries
  with exponential backoff and jitter for timeouts, connection errors, HTTP 5xx and 429
  (``Retry-After`` honoured), and JSON decoding that turns garbage into a non-retryable
  :class:`~geo.errors.ProviderError`.
* :class:`Retry`: what a provider's answer check raises for a throttled answer that arrived as
  HTTP 200 (Amap reports throttling in its JSON body); the client retries it like a 429.
* :class:`ServiceGeocoder`: the base of the providers. It refuses empty and over-long input
  without a request, consults and fills the optional :class:`~geo.geocode.cache.GeocodeCache`,
  refuses positions outside China's service area, and stops sending requests after an answer
  that cannot change by retrying (a rejected key; a daily quota until it resets).
* :func:`mask_secrets`: keys never reach a log record or an error message. Every URL that is
  logged or quoted has its ``key=`` / ``tk=`` values replaced by ``***``, and the literal key
  values are masked wherever they appear (``requests`` quotes the URL in its exceptions).
  urllib3 logs each request line, query string included, at DEBUG level; importing this
  module installs :class:`MaskSecretsFilter` on its ``urllib3.connectionpool`` logger.

Sleeping and time are injectable (``sleep``, ``clock``, ``rng``), so tests of backoff and rate
limiting run instantly and deterministically.

Logging: logger ``geo.geocode.http``; one DEBUG record per request (masked URL, status, time),
one INFO record per retry, a WARNING when a provider stops sending requests.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from geo.crs import in_china
from geo.errors import GeocodeNotFound, ProviderError
from geo.geocode.base import MAX_ADDRESS_CHARS, GeocodeResult

LOGGER = logging.getLogger("geo.geocode.http")

#: Query parameters whose values are secrets (Amap ``key``, Tianditu ``tk``).
SECRET_PARAMS = ("key", "tk")
#: HTTP statuses worth retrying: throttling and server-side failures.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest ``Retry-After`` we wait for inside one call; a longer one fails the call (retryable).
MAX_RETRY_AFTER_S = 60.0

_SECRET_RE = re.compile(r"(?i)([?&;](?:" + "|".join(SECRET_PARAMS) + r")=)[^&#\s'\"]*")


def package_version() -> str:
    """The installed version of the ``yizhan`` distribution (``0`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yizhan")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def default_user_agent(contact: str | None = None) -> str:
    """``Yizhan/<version> (+<contact>)``: identifies the application, as Nominatim requires.

    Parameters
    ----------
    contact
        A URL or e-mail address where the operator can be reached; omitted when empty.
    """
    contact = (contact or "").strip()
    base = f"Yizhan/{package_version()}"
    return f"{base} (+{contact})" if contact else base


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the values of ``key=`` / ``tk=`` parameters and each of ``secrets`` masked.

    Literal values are masked in their plain and URL-encoded forms.
    """
    text = _SECRET_RE.sub(r"\1***", str(text))
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, requests.utils.quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


class MaskSecretsFilter(logging.Filter):
    """A logging filter that masks ``key=`` / ``tk=`` values in the records it passes.

    Installed on urllib3's connection-pool logger, which logs every request line (with its
    query string) at DEBUG level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True


def _install_urllib3_filter() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, MaskSecretsFilter) for f in target.filters):
        target.addFilter(MaskSecretsFilter())


_install_urllib3_filter()


class Retry(Exception):
    """Raised by an answer check: the service is throttling or busy; try again after a delay.

    Parameters
    ----------
    message
        Why (used in the final :class:`ProviderError` when the retries run out).
    retry_after_s
        A delay the service asked for, if any.
    details
        Extra fields for the final error (``code`` …).
    """

    def __init__(self, message: str, retry_after_s: float | None = None, **details: object):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        self.details = details


def _parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now_epoch
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _snippet(body: bytes, limit: int = 80) -> str:
    text = body[:400].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


class HttpClient:
    """A small JSON-over-HTTP client for one provider.

    Parameters
    ----------
    provider
        Provider name, used in errors and logs.
    user_agent
        User-Agent header; default :func:`default_user_agent`.
    timeout_s
        Connect and read timeout of each attempt.
    retries
        Retries after the first attempt for retryable failures (so ``retries + 1`` requests
        at most).
    min_interval_s
        Smallest time between the starts of two requests of this client (all threads).
    backoff_base_s, backoff_max_s
        Retry ``n`` (0-based) waits ``d/2 + uniform(0, d/2)`` with
        ``d = min(backoff_max_s, backoff_base_s * 2**n)``; a ``Retry-After`` up to
        :data:`MAX_RETRY_AFTER_S` is waited for instead when it is longer.
    session
        A ``requests.Session`` to use (not closed by :meth:`close`); default: a new one.
    sleep, clock, rng
        Injectable ``time.sleep``, ``time.monotonic`` and random generator (tests).
    wall_clock
        Injectable ``time.time`` (to read HTTP-date ``Retry-After`` values).
    """

    def __init__(
        self,
        provider: str,
        *,
        user_agent: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
        min_interval_s: float = 0.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s!r}")
        self.provider = provider
        self.user_agent = user_agent or default_user_agent()
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.min_interval_s = float(min_interval_s)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._wall_clock = wall_clock or time.time
        self._rng = rng or random.Random()
        self._rate_lock = threading.Lock()
        self._last_start: float | None = None
        #: Number of HTTP requests actually sent (all attempts).
        self.requests_sent = 0

    # ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the session if this client created it."""
        if self._own_session:
            self.session.close()

    def _wait_turn(self) -> None:
        """Block until ``min_interval_s`` has passed since the previous request started."""
        with self._rate_lock:
            now = self._clock()
            if self._last_start is not None and self.min_interval_s > 0:
                wait = self._last_start + self.min_interval_s - now
                if wait > 0:
                    self._sleep(wait)
                    now = self._clock()
            self._last_start = now

    def backoff_s(self, attempt: int) -> float:
        """The jittered exponential delay before retry number ``attempt`` (0-based)."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    # ----------------------------------------------------------------------------------
    def get_json(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        expect: type | tuple[type, ...] = (dict, list),
        check: Callable[[Any], None] | None = None,
        status_messages: Mapping[int, str] | None = None,
    ) -> Any:
        """GET ``url`` with ``params`` and return the decoded JSON body.

        Parameters
        ----------
        url, params
            Endpoint and query parameters (values that are secrets, :data:`SECRET_PARAMS`,
            are masked in logs and errors).
        expect
            Type(s) the decoded top level must have; anything else is garbage.
        check
            Called with the decoded body; may raise :class:`Retry` (throttled answer: retried
            like a 429), :class:`ProviderError` or :class:`GeocodeNotFound` (propagated).
        status_messages
            Messages for HTTP statuses that are not retried (e.g. ``{403: "key rejected"}``).

        Raises
        ------
        ProviderError
            ``retryable=True`` when the retries ran out on timeouts, connection errors, 5xx,
            429 or :class:`Retry`; ``retryable=False`` for other HTTP errors, non-JSON bodies
            and bodies of the wrong shape. ``details`` carry ``status``, ``attempts`` …
        """
        secrets = [str(params[p]) for p in SECRET_PARAMS if params.get(p)]
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        shown_url = mask_secrets(
            requests.Request("GET", url, params=dict(params)).prepare().url or url, secrets
        )
        last: tuple[str, dict] = ("no attempt made", {})
        attempts = self.retries + 1
        for attempt in range(attempts):
            retry_after: float | None = None
            self._wait_turn()
            started = self._clock()
            self.requests_sent += 1
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=self.timeout_s
                )
            except requests.Timeout:
                last = (f"no answer within {self.timeout_s:g} s", {"timeout_s": self.timeout_s})
                LOGGER.debug("GET %s: timed out after %.1f s", shown_url, self.timeout_s)
            except requests.ConnectionError as exc:
                last = (f"connection failed: {mask_secrets(str(exc), secrets)}", {})
                LOGGER.debug("GET %s: connection failed", shown_url)
            except requests.RequestException as exc:
                raise ProviderError(
                    f"{self.provider}: request failed: {mask_secrets(str(exc), secrets)}",
                    provider=self.provider,
                    retryable=False,
                ) from None
            else:
                elapsed_ms = (self._clock() - started) * 1000
                status = response.status_code
                body = response.content
                LOGGER.debug(
                    "GET %s -> %s (%d bytes, %.0f ms, attempt %d/%d)",
                    shown_url,
                    status,
                    len(body),
                    elapsed_ms,
                    attempt + 1,
                    attempts,
                )
                if status in RETRY_STATUSES or status >= 500:
                    retry_after = _parse_retry_after(
                        response.headers.get("Retry-After"), self._wall_clock()
                    )
                    kind = "throttled the client" if status == 429 else "failed"
                    last = (f"{kind} (HTTP {status})", {"status": status})
                elif status >= 400:
                    what = (status_messages or {}).get(status, "refused the request")
                    raise ProviderError(
                        f"{self.provider}: {what} (HTTP {status}: {_snippet(body)!r})",
                        provider=self.provider,
                        retryable=False,
                        status=status,
                    )
                else:
                    data = self._decode(body, response.headers.get("Content-Type", ""), status)
                    if not isinstance(data, expect):
                        raise ProviderError(
                            f"{self.provider}: answered JSON of an unexpected shape "
                            f"({type(data).__name__}: {_snippet(body)!r})",
                            provider=self.provider,
                            retryable=False,
                            status=status,
                        )
                    if check is None:
                        return data
                    try:
                        check(data)
                    except Retry as signal:
                        retry_after = signal.retry_after_s
                        last = (signal.message, dict(signal.details))
                    else:
                        return data
            # a retryable failure
            if attempt + 1 >= attempts:
                break
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                last = (f"{last[0]}; asked to wait {retry_after:.0f} s", last[1])
                last[1]["retry_after_s"] = retry_after
                break
            delay = max(self.backoff_s(attempt), retry_after or 0.0)
            LOGGER.info(
                "%s: %s; retry %d/%d in %.2f s",
                self.provider,
                last[0],
                attempt + 1,
                self.retries,
                delay,
            )
            self._sleep(delay)
        message, details = last
        raise ProviderError(
            f"{self.provider}: {message} (gave up after {attempt + 1} request(s))",
            provider=self.provider,
            retryable=True,
            attempts=attempt + 1,
            **details,
        )

    def _decode(self, body: bytes, content_type: str, status: int) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(
                f"{self.provider}: answered something that is not JSON "
                f"({content_type or 'no content type'}, {len(body)} bytes: {_snippet(body)!r})",
                provider=self.provider,
                retryable=False,
                status=status,
            ) from None


# --------------------------------------------------------------------------------------------
# Base class of the online providers


class ServiceGeocoder:
    """Common behaviour of the online geocoders; subclasses implement :meth:`_lookup`.

    ``geocode(address, city)``:

    1. strips the text; empty or longer than :data:`~geo.geocode.base.MAX_ADDRESS_CHARS` →
       :class:`GeocodeNotFound` without a request;
    2. a cached answer (positive or "not found") is returned / raised without a request;
    3. while the provider is stopped (see :meth:`_stop`) → the remembered
       :class:`ProviderError` again, without a request;
    4. otherwise :meth:`_lookup` asks the service; a result outside China's service area
       (:func:`geo.crs.in_china`) becomes :class:`GeocodeNotFound`; results and "not found"
       answers are cached, service failures are not.
    """

    name = "service"

    def __init__(self, http: HttpClient, cache: Any = None) -> None:
        self._http = http
        self.cache = cache
        self._stopped: tuple[float, ProviderError] | None = None  # (until, error)

    # -- life cycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Release the HTTP session (if the geocoder created it)."""
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (all attempts)."""
        return self._http.requests_sent

    # -- protocol --------------------------------------------------------------------------
    def geocode(self, address: str, city: str | None = None) -> GeocodeResult:
        """Geocode ``address`` (see the class docstring and :class:`~geo.geocode.base.Geocoder`).

        Raises
        ------
        GeocodeNotFound
            Empty or over-long input, no match, too coarse a match, or outside China.
        ProviderError
            The service failed; ``retryable`` says whether trying later may help.
        """
        text = " ".join(str(address or "").split())
        city = " ".join(str(city or "").split()) or None
        if not text:
            raise GeocodeNotFound("the address is empty", provider=self.name, reason="empty")
        if len(text) > MAX_ADDRESS_CHARS:
            raise GeocodeNotFound(
                f"the address is longer than {MAX_ADDRESS_CHARS} characters ({len(text)})",
                provider=self.name,
                reason="too_long",
            )
        if self.cache is not None:
            entry = self.cache.get(self.name, text, city)
            if entry is not None:
                if entry.result is not None:
                    return entry.result
                raise GeocodeNotFound(entry.reason or "not found (cached)", provider=self.name)
        self._raise_if_stopped()
        try:
            result = self._lookup(text, city)
            if not in_china(result.lon, result.lat):
                raise GeocodeNotFound(
                    f"{self.name}: the match ({result.lon:.5f}, {result.lat:.5f}) is outside "
                    "China's service area",
                    provider=self.name,
                    reason="outside_china",
                )
        except GeocodeNotFound as exc:
            if self.cache is not None:
                self.cache.put_not_found(self.name, text, city, exc.message)
            raise
        result.query = text
        if self.cache is not None:
            self.cache.put(self.name, text, city, result)
        return result

    def _lookup(self, address: str, city: str | None) -> GeocodeResult:  # pragma: no cover
        raise NotImplementedError

    # -- stopping after answers that retrying cannot change --------------------------------
    def _stop(self, error: ProviderError, seconds: float = math.inf) -> ProviderError:
        """Remember ``error`` and refuse further requests for ``seconds``; return ``error``."""
        until = self._http._clock() + seconds
        self._stopped = (until, error)
        LOGGER.warning(
            "%s: no further requests %s: %s",
            self.name,
            "from this geocoder" if math.isinf(seconds) else f"for {seconds:.0f} s",
            error.message,
        )
        return error

    def _raise_if_stopped(self) -> None:
        if self._stopped is None:
            return
        until, error = self._stopped
        if self._http._clock() >= until:
            self._stopped = None
            return
        raise ProviderError(
            f"{error.message} [remembered from an earlier answer; no request sent]",
            provider=self.name,
            retryable=error.retryable,
            **{k: v for k, v in error.details.items() if k != "provider"},
        )


def next_midnight(tz: str = "Asia/Shanghai", now: datetime | None = None) -> datetime:
    """The next 00:00 in ``tz`` after ``now`` (default: the current time), timezone-aware."""
    zone = ZoneInfo(tz)
    local = (now or datetime.now(UTC)).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def text_field(value: object) -> str:
    """A provider's text field as ``str``: Amap sends ``[]`` for an empty field."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def parse_float(value: object) -> float | None:
    """A finite float from a number or numeric string, else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_lon_lat(
    provider: str, lon: float | None, lat: float | None, raw: object
) -> tuple[float, float]:
    """``(lon, lat)`` narrowed to floats; a non-retryable :class:`ProviderError` if invalid."""
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ProviderError(
            f"{provider}: answered a malformed position {str(raw)[:60]!r}",
            provider=provider,
            retryable=False,
        )
    return lon, lat
