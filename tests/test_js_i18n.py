"""The page scripts' strings: every key the scripts and templates use is in i18n.js, in zh and en.

``webapp/static/js/i18n.js`` holds the one catalogue (``key: {zh: ..., en: ...}``); the scripts
ask for strings with ``t('key', params)`` and the locator templates name keys in
``data-i18n``, ``data-i18n-label`` and ``data-i18n-placeholder``. The files are read as text
(no JavaScript engine needed): a key used but missing, a language missing, placeholders that
differ between zh and en, or Chinese text left in a script's logic fails here. When ``node``
is on the path, t() itself is also run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "webapp" / "static" / "js"
I18N = JS / "i18n.js"
TEMPLATES = ROOT / "webapp" / "templates"

STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
ENTRY = re.compile(r"^    (?:'([\w.]+)'|(\w+)): \{", re.M)
# t('key') / t('key', {...}) / t('prefix.' + code); translate(lang, 'key') as tr or translate
USE = re.compile(r"\bt\(\s*'([^']*)'\s*([,)+])")
TRANSLATE = re.compile(r"\b(?:tr|translate)\(\s*'(?:zh|en)'\s*,\s*'([^']*)'\s*([,)+])")
ATTRIBUTE = re.compile(r'data-i18n(?:-label|-placeholder|-title)?="([^"]+)"')
CJK = re.compile(r"[\u4e00-\u9fff]")


def page_scripts() -> list[Path]:
    """The project's own page scripts (not vendor/)."""
    return sorted(p for p in JS.rglob("*.js") if "vendor" not in p.relative_to(JS).parts)


def blank_strings(text: str) -> str:
    """``text`` with the inside of every string literal replaced by spaces (same offsets)."""
    return STRING.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], text)


def strip_comments(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", code)


def catalogue(text: str) -> dict[str, dict[str, str]]:
    """{key: {"zh": source text, "en": source text}} from the text of i18n.js."""
    start = text.index("var CATALOGUE = {")
    end = text.index("\n  };", start)
    body = re.sub(r"(?m)^\s*//.*$", "", text[start:end])  # comment lines
    blanked = blank_strings(body)
    heads = list(ENTRY.finditer(body))
    entries: dict[str, dict[str, str]] = {}
    for i, head in enumerate(heads):
        key = head.group(1) or head.group(2)
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        chunk, plain = body[head.end() : stop], blanked[head.end() : stop]
        assert key not in entries, f"{key} is defined twice"
        langs = {}
        zh, en = re.search(r"\bzh\s*:", plain), re.search(r"\ben\s*:", plain)
        if zh and en and zh.start() < en.start():
            langs = {"zh": chunk[zh.end() : en.start()], "en": chunk[en.end() :]}
        elif zh:
            langs = {"zh": chunk[zh.end() :]}
        elif en:
            langs = {"en": chunk[en.end() :]}
        entries[key] = langs
    return entries


def used_keys(text: str) -> tuple[set[str], set[str]]:
    """(exact keys, key prefixes) asked for with t() or translate() in a script's text."""
    exact, prefixes = set(), set()
    for pattern in (USE, TRANSLATE):
        for key, after in pattern.findall(text):
            (prefixes if after == "+" else exact).add(key)
    return exact, prefixes


def missing(entries: dict, exact: set[str], prefixes: set[str]) -> list[str]:
    gone = [k for k in sorted(exact) if k not in entries]
    gone += [p + "…" for p in sorted(prefixes) if not any(k.startswith(p) for k in entries)]
    return gone


@pytest.fixture(scope="module")
def entries() -> dict[str, dict[str, str]]:
    return catalogue(I18N.read_text(encoding="utf-8"))


def test_every_entry_has_zh_and_en_with_the_same_placeholders(entries):
    assert len(entries) > 100  # the parser found the catalogue
    for key, langs in entries.items():
        assert set(langs) == {"zh", "en"}, f"{key}: {sorted(langs)}"
        zh = set(re.findall(r"\{(\w+)\}", langs["zh"]))
        en = set(re.findall(r"\{(\w+)\}", langs["en"]))
        assert zh == en, f"{key}: placeholders zh {sorted(zh)} vs en {sorted(en)}"
        if re.match(r"\s*\{", blank_strings(langs["en"])):  # a plural
            assert "one:" in langs["en"] and "other:" in langs["en"], key


def test_every_key_the_scripts_use_is_in_the_catalogue(entries):
    used = 0
    for path in page_scripts():
        exact, prefixes = used_keys(path.read_text(encoding="utf-8"))
        used += len(exact)
        gone = missing(entries, exact, prefixes)
        assert not gone, f"{path.relative_to(ROOT)} uses keys missing from i18n.js: {gone}"
    assert used > 100


def test_every_key_the_templates_name_is_in_the_catalogue(entries):
    names = set()
    for path in TEMPLATES.rglob("*.html"):
        html = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        names |= set(ATTRIBUTE.findall(html))
    assert {"title", "mapLabel", "searchPlaceholder", "builderPreviewTitle"} <= names
    # A key with a computed suffix ("builderControl.{{ name }}") is a group: every value the
    # template loops over has its entry.
    from geo.liuyou import CRITERIA, Outcome
    from webapp.embed import CONTROLS

    computed = {n for n in names if "{{" in n}
    liuyou = {"liuyou.{{ c.code }}", "liuyouOutcome.{{ c.outcome }}"}  # issue 15 item 7
    assert computed == {"builderControl.{{ name }}"} | liuyou
    names = (names - computed) | {f"builderControl.{c}" for c in CONTROLS}
    names |= {f"liuyou.{c.code}" for c in CRITERIA} | {f"liuyouOutcome.{o}" for o in Outcome}
    assert sorted(names - set(entries)) == []


def test_the_check_catches_a_missing_key(entries):
    exact, prefixes = used_keys(
        "var s = t('loading') + t('noSuchKey', { n: 1 }) + t('status.' + code) + "
        "t('nope.' + x) + tr('en', 'alsoMissing');"
    )
    assert missing(entries, exact, prefixes) == ["alsoMissing", "noSuchKey", "nope.…"]
    broken = catalogue(
        "  var CATALOGUE = {\n    a: { zh: '{n} 个' },\n    'b.c': { zh: 'x', en: 'y' }\n  };"
    )
    assert {k: sorted(v) for k, v in broken.items()} == {"a": ["zh"], "b.c": ["en", "zh"]}


def test_no_chinese_text_in_script_logic():
    """User-facing text lives in i18n.js; the other scripts hold none outside comments."""
    for path in page_scripts():
        if path in (I18N, JS / "crs.js"):
            continue
        code = strip_comments(path.read_text(encoding="utf-8"))
        found = CJK.findall(code)
        assert not found, f"{path.relative_to(ROOT)} has Chinese text in its code: {found[:10]}"


NODE_CHECK = """
global.window = {};
global.document = { documentElement: { getAttribute: function () { return 'en-GB'; } } };
require(process.argv[1]);
var i = window.Yizhan.i18n;
var out = {
  start: i.lang(),
  one: i.t('countView', { n: 1 }), many: i.t('countView', { n: 3 }),
  zh: i.translate('zh', 'countView', { n: 3 }),
  braces: i.t('selected', { name: '{n} $& x' }),
  unknown: i.t('no.such.key'), has: [i.has('title'), i.has('no.such.key')],
  set: i.setLang('fr')
};
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_t_runs_in_node():
    proc = subprocess.run(
        ["node", "-e", NODE_CHECK, str(I18N)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "start": "en",
        "one": "1 station in view",
        "many": "3 stations in view",
        "zh": "地图范围内 3 个站点",
        "braces": "Selected: {n} $& x",
        "unknown": "no.such.key",
        "has": [True, False],
        "set": "zh",
    }


#: English entries that show Chinese on purpose: the switch to Chinese names itself in Chinese
#: (and says so in Chinese).
EN_MAY_HOLD_CHINESE = {"langSwitch", "langSwitchLabel", "outlinesAttribution"}


def test_english_entries_hold_no_chinese_text_or_punctuation(entries):
    """English mode must not mix Chinese punctuation (“”，。：) or text into its sentences."""
    from support import other_language_text

    bad = {}
    for key, langs in entries.items():
        if key in EN_MAY_HOLD_CHINESE:
            continue
        found = other_language_text(langs["en"], "en")
        if found:
            bad[key] = found
    assert bad == {}


def test_chinese_entries_hold_no_english_sentences(entries):
    from support import other_language_text

    bad = {}
    for key, langs in entries.items():
        if key in ("langSwitch", "langSwitchLabel"):  # the switch names English in English
            continue
        text = re.sub(r"\{\w+\}", " ", STRING.sub(lambda m: m.group(0)[1:-1], langs["zh"]))
        found = other_language_text(text, "zh")
        if found:
            bad[key] = found
    assert bad == {}
