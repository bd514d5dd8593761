"""The test suite's own layout: ``tests/`` and ``tests/browser/`` are not packages (pytest's
rootdir-based import), so two test modules there with the same basename stop the whole
collection ("import file mismatch"). This fails first, naming the pair, instead."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_modules_outside_packages_share_a_basename():
    modules = [
        p
        for p in TESTS.rglob("test_*.py")
        if not (p.parent / "__init__.py").exists() and ".venv" not in p.parts
    ]
    names = Counter(p.name for p in modules)
    clashes = sorted(str(p.relative_to(TESTS)) for p in modules if names[p.name] > 1)
    assert not clashes, f"rename one of each pair: {clashes}"
