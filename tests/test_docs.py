"""The README stays true: every setting, CLI verb and API route is documented there."""

from __future__ import annotations

import re

import pytest

from support import ROOT, close_app
from webapp import create_app
from webapp.cli import main
from webapp.settings import documented_settings

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("env", [env for _, env, _, _ in documented_settings()])
def test_every_setting_is_documented(env):
    assert f"`{env}`" in README


def test_every_setting_has_help():
    for name, _, _, help_text in documented_settings():
        assert len(help_text) > 20, name


@pytest.mark.parametrize("verb", sorted(main.commands))
def test_every_cli_verb_is_documented(verb):
    assert f"yizhan {verb}" in README


def test_every_route_is_documented(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    rules = {
        re.sub(r"<[^>]+>", "<id>", r.rule)
        for r in app.url_map.iter_rules()
        if not r.rule.startswith("/static")
    }
    # the README may name path parameters ({z}, <id>): compare with every name as <id>
    readme = re.sub(r"\{[a-z_]+\}|<[^>]+>", "<id>", README)
    for rule in rules:
        assert (
            f"`GET {rule}" in readme
            or f"`GET {rule}`" in readme
            or (rule == "/api/services" and "`GET /api/services`" in README)
        ), rule
    close_app(app)


def test_two_commands_and_ci():
    assert "make serve" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_headings_are_unique():
    """Each README heading names one section: two sections of the same name split a topic and
    make its link (GitHub's anchor) point at only the first."""
    prose = re.sub(r"^```.*?^```", "", README, flags=re.M | re.S)  # code blocks have comments
    headings = re.findall(r"^#{1,6} (.+)$", prose, flags=re.M)
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, repeated
