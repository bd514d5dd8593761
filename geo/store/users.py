"""Planner users: names and password hashes for the planner pages' login.

Passwords are hashed with scrypt (``hashlib.scrypt``, a memory-hard KDF from the standard
library) with a random 16-byte salt per user, stored as a self-describing string
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64), so the cost can be raised later without
breaking stored hashes. Checks compare in constant time, and a check for an unknown or
disabled user still runs one scrypt so timing does not tell which names exist. There is no
default user and no default password: users are created with ``yizhan user add``.

Sessions are revocable on the server: each user has a ``session_version`` that a login
stores in the session and every request compares (:meth:`UserRepository.session_valid`).
:meth:`UserRepository.end_sessions` (logout), :meth:`~UserRepository.set_password` and
:meth:`~UserRepository.set_disabled` increase it, so every cookie issued before stops working,
whoever kept a copy.

Roles and areas (:mod:`geo.access`, migration 0007_roles): each user has one role (default
``planner``) and zero or more areas, rows of ``user_areas``. A change of role or areas holds
from the user's next request (every request reloads the user), without ending the session.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import overload

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.access import DEFAULT_ROLE, Role, area_code, check_user_areas, parse_role
from geo.errors import NotFound, ValidationError
from geo.store.schema import user_areas, users

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 10
#: Longest password accepted (scrypt takes any length; this bounds the work per request).
MAX_PASSWORD_LENGTH = 1024
#: scrypt cost: N = 2**15, r = 8, p = 1 (32 MiB, ~0.1 s): OWASP's minimum for scrypt is
#: N = 2**17 with r = 8 *or* an equivalent; 2**15 keeps logins fast on a small server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_DKLEN = 32
_NAME = re.compile(r"^[\w.@-]{1,64}$")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * n + 1024 * 1024,
        dklen=_DKLEN,
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, n, r, p))}"


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash checked for unknown users, so a login for a missing name costs the same time."""
    return hash_password(secrets.token_hex(16))


def check_new_password(password: str) -> None:
    """Refuse a password that is too short or too long (:class:`ValidationError`)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            f"password must have at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )


@dataclass
class User:
    """A user of the planner and ``/manage/`` pages (the hash is never part of ``to_dict``)."""

    name: str
    disabled: bool
    created_at: datetime
    password_changed_at: datetime | None
    last_login_at: datetime | None
    session_version: int = 0
    #: A :class:`geo.access.Role` value.
    role: str = DEFAULT_ROLE.value
    #: Admin codes the role applies to, sorted (none: everywhere).
    areas: tuple[str, ...] = ()

    def can(self, permission: str) -> bool:
        """Whether the user's role has ``permission`` (:data:`geo.access.PERMISSIONS`)."""
        from geo.access import allowed

        return allowed(self.role, permission)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "areas": list(self.areas),
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "password_changed_at": _iso(self.password_changed_at),
            "last_login_at": _iso(self.last_login_at),
        }


class UserRepository:
    """Create, list, check, disable and remove planner users."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _user(r, areas: tuple[str, ...] = ()) -> User:
        return User(
            r["name"],
            bool(r["disabled"]),
            _aware(r["created_at"]),
            _aware(r["password_changed_at"]),
            _aware(r["last_login_at"]),
            int(r["session_version"] or 0),
            str(r["role"] or DEFAULT_ROLE.value),
            areas,
        )

    @staticmethod
    def _areas(conn, names: list[str] | None = None) -> dict[str, tuple[str, ...]]:
        query = sa.select(user_areas.c.user_name, user_areas.c.area_code)
        if names is not None:
            query = query.where(user_areas.c.user_name.in_(names))
        out: dict[str, list[str]] = {}
        for user_name, code in conn.execute(query):
            out.setdefault(user_name, []).append(code)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def create(
        self,
        name: str,
        password: str,
        role: Role | str = DEFAULT_ROLE,
        areas: Iterable[str] = (),
    ) -> User:
        """Add a user; refuses a malformed or taken name, a weak password, an unknown role
        or area code, and an editor/reviewer/staff user without an area."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError("user name must be 1-64 letters, digits or . _ @ -", field="name")
        role = parse_role(role)
        codes = _area_codes(areas)
        check_user_areas(role, codes)
        check_new_password(password)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise ValidationError(f"user {name!r} exists already", field="name")
            conn.execute(
                users.insert().values(
                    name=name,
                    password_hash=hash_password(password),
                    disabled=False,
                    created_at=now,
                    password_changed_at=now,
                    session_version=0,
                    role=role.value,
                )
            )
            for code in codes:
                conn.execute(user_areas.insert().values(user_name=name, area_code=code))
        return self.get(name)

    def get(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(users.select().where(users.c.name == name)).mappings().first()
            if row is None:
                raise NotFound(f"no user {name!r}")
            areas = self._areas(conn, [name]).get(name, ())
        return self._user(row, areas)

    def all(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(users.select().order_by(users.c.name)).mappings().all()
            areas = self._areas(conn)
            return [self._user(r, areas.get(r["name"], ())) for r in rows]

    def set_role(
        self,
        name: str,
        role: Role | str | None = None,
        *,
        areas: Iterable[str] | None = None,
        add_areas: Iterable[str] = (),
        remove_areas: Iterable[str] = (),
    ) -> User:
        """Change the role and/or areas of ``name`` in one transaction: ``areas`` replaces
        them all, ``add_areas``/``remove_areas`` change some. Refuses an unknown role or
        area code and leaving an editor, reviewer or staff user without an area (nothing is
        written then). Holds from the user's next request."""
        current = self.get(name)
        new_role = parse_role(role) if role is not None else parse_role(current.role)
        codes = set(current.areas) if areas is None else set(_area_codes(areas))
        codes |= set(_area_codes(add_areas))
        codes -= {_area_key(c) for c in remove_areas}
        final = tuple(sorted(codes))
        check_user_areas(new_role, final)
        with self.engine.begin() as conn:
            if not conn.execute(
                users.update().where(users.c.name == name).values(role=new_role.value)
            ).rowcount:
                raise NotFound(f"no user {name!r}")
            conn.execute(sa.delete(user_areas).where(user_areas.c.user_name == name))
            for code in final:
                conn.execute(user_areas.insert().values(user_name=name, area_code=code))
        return self.get(name)

    def set_password(self, name: str, password: str) -> None:
        """Set a new password; ends every session of the user."""
        check_new_password(password)
        self._update(
            name,
            password_hash=hash_password(password),
            password_changed_at=_now(),
            session_version=users.c.session_version + 1,
        )

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """Disable (or enable) a user; ends every session of the user."""
        self._update(name, disabled=disabled, session_version=users.c.session_version + 1)

    def end_sessions(self, name: str) -> None:
        """End every session of ``name`` (logout): sessions of an older version are refused."""
        self._update(name, session_version=users.c.session_version + 1)

    def session_valid(self, name: str, version: object) -> User | None:
        """The user if a session of ``name`` at ``version`` is still valid (the user exists,
        is enabled and has not logged out or changed password since), else ``None``."""
        try:
            user = self.get(name)
        except NotFound:
            return None
        if user.disabled or type(version) is not int or version != user.session_version:
            return None
        return user

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(user_areas).where(user_areas.c.user_name == name))
            if not conn.execute(sa.delete(users).where(users.c.name == name)).rowcount:
                raise NotFound(f"no user {name!r}")

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs and they are enabled, else ``None``.

        Unknown and disabled users cost one scrypt like a wrong password.
        """
        row = None
        if isinstance(name, str) and _NAME.match(name):
            with self.engine.connect() as conn:
                row = conn.execute(users.select().where(users.c.name == name)).mappings().first()
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password = ""
        ok = check_password(row["password_hash"] if row else _dummy_hash(), password)
        if row is None or not ok or row["disabled"]:
            return None
        self._update(name, last_login_at=_now())
        return self.get(name)

    def _update(self, name: str, **values) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(
                users.update().where(users.c.name == name).values(**values)
            ).rowcount:
                raise NotFound(f"no user {name!r}")


def _area_codes(areas: Iterable[str]) -> tuple[str, ...]:
    """Area codes checked against the gazetteer, canonical, sorted and unique."""
    if isinstance(areas, str):
        areas = [areas]
    return tuple(sorted({area_code(a) for a in areas}))


def _area_key(code: str) -> str:
    """A code to remove: canonical if it is known, else as given (a stale code can go)."""
    try:
        return area_code(code)
    except ValidationError:
        return str(code).strip()


def _now() -> datetime:
    return datetime.now(UTC)


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
