"""Declared GET routes of ``/api`` and ``/ogc``: the :func:`endpoint` decorator and registry.

A route declares its :class:`~webapp.params.Param` objects once; :func:`endpoint` registers
it on its blueprint, validates every request with them (unknown parameters refused), caches
station data by the registry revision (weak ``ETag``, ``304``) and records an
:class:`Endpoint` in :data:`ENDPOINTS`, from which :mod:`webapp.openapi` builds the API
document. Also here: the station filter the API and the OGC collection share.
:mod:`webapp.api` and :mod:`webapp.ogc` import this module, never each other.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from flask import Blueprint, Response, current_app, g, request

from geo.index import Filter, StationIndex
from webapp.params import Param, parse_args
from webapp.services import services

#: Seconds browsers and proxies may reuse station data / the taxonomy and API document.
DATA_MAX_AGE_S = 60
STATIC_MAX_AGE_S = 3600
#: The media type of an OpenAPI 3.0 document in JSON (OGC API - Features, OAS30 class).
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"


@dataclass(frozen=True)
class Endpoint:
    """A documented route: what :mod:`webapp.openapi` publishes about it."""

    path: str  # OpenAPI form, ``/api/stations/{station_id}``
    rule: str  # Flask form
    operation_id: str
    summary: str
    params: tuple[Param, ...]
    response: str  # a schema name in webapp.openapi.components
    media_type: str = "application/json"
    errors: tuple[int, ...] = (400,)
    cache: str | None = None  # "data" (revision ETag), "static" (content ETag) or None
    path_params: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ("api",)
    extra: dict = field(default_factory=dict)


#: Every documented route, in declaration order (:mod:`webapp.api`'s and :mod:`webapp.ogc`'s).
ENDPOINTS: list[Endpoint] = []


def endpoint(
    blueprint: Blueprint,
    rule: str,
    *params: Param,
    response: str,
    media_type: str = "application/json",
    errors: tuple[int, ...] = (400,),
    cache: str | None = None,
    path_params: tuple[tuple[str, str], ...] = (),
    tags: tuple[str, ...] = ("api",),
    strict: bool = True,
    rate_limit: str | None = None,
):
    """Register a GET route on ``blueprint`` with its parameters, and document it.

    The view is called as ``view(args, **path)`` with ``args`` the parsed parameters. With
    ``cache="data"`` the view works on the registry snapshot ``g.snapshot`` (index,
    revision), and a request whose ``If-None-Match`` matches gets ``304`` before any work.
    ``strict=False`` lets the view check unknown parameters itself. ``rate_limit`` names the
    :class:`~webapp.ratelimit.RateLimiter` of :class:`~webapp.services.Services` that every
    request (even a refused one) draws from, before anything else.
    """
    prefix = blueprint.url_prefix or ""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**path):
            svc = services()
            if rate_limit:
                getattr(svc, rate_limit).check(request.remote_addr or "?")
            args = parse_args(params, request.args, svc.settings, strict=strict)
            if cache == "data":
                g.snapshot = svc.index.snapshot()
                etag = _etag(f"r{g.snapshot[1]}")
                if request.if_none_match.contains_weak(etag):
                    return _not_modified(etag, DATA_MAX_AGE_S)
                return _cacheable(view(args, **path), etag, DATA_MAX_AGE_S)
            answer = view(args, **path)
            if cache == "static":
                answer = current_app.make_response(answer)
                etag = _etag(hashlib.sha1(answer.get_data()).hexdigest())
                return _cacheable(answer, etag, STATIC_MAX_AGE_S).make_conditional(request)
            return answer

        # The blueprint's root answers with and without the trailing slash: an OGC client
        # joins the server URL ``…/ogc`` and the path ``/`` of the API definition.
        blueprint.get(rule, strict_slashes=bool(rule))(wrapper)
        full = prefix + rule
        ENDPOINTS.append(
            Endpoint(
                path=re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", full),
                rule=full,
                operation_id=f"{blueprint.name}_{view.__name__}",
                summary=(view.__doc__ or "").strip().splitlines()[0],
                params=params,
                response=response,
                media_type=media_type,
                errors=errors,
                cache=cache,
                path_params=path_params,
                tags=tags,
            )
        )
        return wrapper

    return decorate


def _etag(version: str) -> str:
    """A weak validator for this path and query at ``version`` of the data."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    accept = request.headers.get("Accept", "") if request.path.startswith("/ogc") else ""
    digest = hashlib.sha1(f"{request.path}?{query}|{accept}".encode()).hexdigest()[:16]
    return f"{version}-{digest}"


def _cacheable(response, etag: str, max_age: int):
    response = current_app.make_response(response)
    response.set_etag(etag, weak=True)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def _not_modified(etag: str, max_age: int) -> Response:
    response = Response(status=304)
    response.set_etag(etag, weak=True)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def station_mask(
    index: StationIndex,
    kinds=(),
    services=(),
    statuses=(),
    bbox=None,
    county: str | None = None,
    open_now: bool = False,
    now: datetime | None = None,
) -> np.ndarray:
    """Indices (into ``index.stations``, id order) of the stations matching the filters.

    Vectorised on the index (:meth:`StationIndex.mask`); the county filter, which matches a
    code or a name, looks only at what is left. Shared by ``/api/stations`` and the OGC items.
    A ``bbox`` (west, south, east, north) whose west edge is east of its east edge crosses the
    antimeridian: it is the two boxes west..180 and -180..east.
    """
    f = Filter.of(kinds, services, statuses=statuses, open_at=now if open_now else None)
    if bbox is not None and bbox[0] > bbox[2]:
        west, south, east, north = bbox
        mask = index.mask(f, (west, south, 180.0, north)) | index.mask(
            f, (-180.0, south, east, north)
        )
    else:
        mask = index.mask(f, bbox)
    idx = np.flatnonzero(mask)
    if county:
        st = index.stations
        idx = idx[[st[i].county_code == county or st[i].county == county for i in idx.tolist()]]
    return idx
