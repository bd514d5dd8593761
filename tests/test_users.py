"""Planner users: scrypt hashes, the repository on a real database (SQLite and PostgreSQL),
the real CLI verbs."""

from __future__ import annotations

import os

import pytest

from geo.errors import NotFound, ValidationError
from geo.store import UserRepository
from geo.store.users import MIN_PASSWORD_LENGTH, check_password, hash_password
from support import cli

PASSWORD = "correct horse battery"

# the repository and the CLI run on SQLite and on PostgreSQL (``repo``, ``db_url``)
pytestmark = pytest.mark.both_backends


def test_hash_is_salted_versioned_and_checked():
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b  # a fresh salt each time
    scheme, n, r, p, salt, _digest = a.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**15, 8, 1)
    assert salt != b.split("$")[4]
    assert check_password(a, PASSWORD) and check_password(b, PASSWORD)
    assert not check_password(a, PASSWORD + " ")
    assert not check_password(a, "")
    assert not check_password("garbage", PASSWORD)
    assert not check_password(a.replace("scrypt", "md5", 1), PASSWORD)
    # The cost parameters travel with the hash: a cheaper old hash still verifies.
    cheap = hash_password(PASSWORD, n=2**10)
    assert cheap.split("$")[1] == "1024" and check_password(cheap, PASSWORD)


def test_repository_create_verify_disable_remove(repo):
    users = UserRepository(repo.engine)
    created = users.create("alice", PASSWORD)
    assert created.name == "alice" and not created.disabled
    assert "scrypt$" not in str(created.to_dict())
    assert users.verify("alice", PASSWORD).last_login_at is not None
    assert users.verify("alice", "wrong password!") is None
    assert users.verify("nobody", PASSWORD) is None
    with pytest.raises(ValidationError, match="exists"):
        users.create("alice", PASSWORD)
    with pytest.raises(ValidationError, match=str(MIN_PASSWORD_LENGTH)):
        users.create("bob", "x" * (MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(ValidationError, match="user name"):
        users.create("bad name", PASSWORD)
    users.set_disabled("alice")
    assert users.verify("alice", PASSWORD) is None
    users.set_disabled("alice", False)
    users.set_password("alice", "another long secret")
    assert users.verify("alice", PASSWORD) is None
    assert users.verify("alice", "another long secret") is not None
    assert [u.name for u in users.all()] == ["alice"]
    users.remove("alice")
    assert users.all() == []
    with pytest.raises(NotFound):
        users.remove("alice")
    with pytest.raises(NotFound):
        users.set_password("alice", PASSWORD)


def test_session_version_ends_sessions_on_logout_password_and_disable(repo):
    """Issue 13, item 11: a session is valid only at the user's current version."""
    users = UserRepository(repo.engine)
    users.create("alice", PASSWORD)
    version = users.verify("alice", PASSWORD).session_version
    assert users.session_valid("alice", version).name == "alice"
    users.verify("alice", PASSWORD)  # another login does not end the first session
    assert users.session_valid("alice", version) is not None
    for end in (
        lambda: users.end_sessions("alice"),
        lambda: users.set_password("alice", "another long secret"),
        lambda: users.set_disabled("alice"),
        lambda: users.set_disabled("alice", False),
    ):
        end()
        assert users.session_valid("alice", version) is None
        new = users.get("alice").session_version
        assert new > version
        version = new
    assert users.session_valid("alice", version) is not None
    for forged in (None, str(version), float(version), True, version - 1):
        assert users.session_valid("alice", forged) is None
    assert users.session_valid("nobody", 0) is None
    users.set_disabled("alice")
    assert users.session_valid("alice", users.get("alice").session_version) is None
    with pytest.raises(NotFound):
        users.end_sessions("nobody")


@pytest.mark.slow
def test_cli_user_add_list_passwd_remove(db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}

    def run(*args, stdin=None, check=True):
        import subprocess
        import sys

        from support import ROOT

        proc = subprocess.run(
            [sys.executable, "-m", "webapp.cli", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    run("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    # Hidden prompt with confirmation (click reads the tty-less stdin twice).
    run("user", "add", "bob", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    mismatch = run("user", "add", "carol", stdin=f"{PASSWORD}\nsomething else!\n", check=False)
    assert mismatch.returncode != 0
    short = run("user", "add", "dave", "--password-stdin", stdin="short\n", check=False)
    assert short.returncode == 1 and "at least" in short.stderr
    dup = run("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n", check=False)
    assert dup.returncode == 1 and "exists" in dup.stderr
    listed = cli("user", "list", env=env).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["alice", "bob"]
    run("user", "passwd", "alice", "--password-stdin", stdin="a brand new secret\n")
    run("user", "passwd", "bob", "--disable")
    assert cli("user", "list", env=env).stdout.splitlines()[1].endswith("disabled")
    missing = run("user", "passwd", "zed", "--password-stdin", stdin=PASSWORD + "\n", check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr
    from geo.store import StationRepository

    repo = StationRepository.from_url(env["YIZHAN_DATABASE_URL"])
    users = UserRepository(repo.engine)
    assert users.verify("alice", "a brand new secret") is not None
    assert users.verify("alice", PASSWORD) is None
    assert users.verify("bob", PASSWORD) is None  # disabled
    repo.engine.dispose()
    run("user", "remove", "bob")
    assert [line.split("\t")[0] for line in cli("user", "list", env=env).stdout.splitlines()] == [
        "alice"
    ]
    assert run("user", "remove", "bob", check=False).returncode == 1
