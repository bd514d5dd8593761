"""webapp/static/js/common.js run in node: getJSON's answers and errors, apiUrl, debounce.

``fetch`` is a stub, so what is checked is the mapping: the API's error message and status,
Retry-After, a network failure, an unreadable body, an abort from the caller and the
``timeoutMs`` option. Skipped where ``node`` is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "webapp" / "static" / "js"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

SCRIPT = r"""
global.window = global;
global.document = { documentElement: { getAttribute: function () { return 'zh-CN'; } } };
require(process.argv[1]);   // i18n.js
require(process.argv[2]);   // common.js
var C = window.Yizhan.common;

function answer(status, body, headers) {
  return Promise.resolve({
    ok: status >= 200 && status < 300, status: status,
    headers: { get: function (h) { return (headers || {})[h] || null; } },
    text: function () { return Promise.resolve(body); }
  });
}
var seen = [];
global.fetch = function (url, init) {
  seen.push({ url: url, accept: init.headers.Accept, credentials: init.credentials });
  if (url === '/ok') { return answer(200, '{"a": 1}'); }
  if (url === '/bad') {
    return answer(400, '{"error": {"message": "参数 kind 无效", "parameter": "kind"}}');
  }
  if (url === '/busy') { return answer(429, '', { 'Retry-After': '7' }); }
  if (url === '/html') { return answer(200, '<html>'); }
  if (url === '/down') { return Promise.reject(new TypeError('Failed to fetch')); }
  return new Promise(function (resolve, reject) {   // /slow: only ends when aborted
    init.signal.addEventListener('abort', function () {
      var e = new Error('aborted'); e.name = 'AbortError'; reject(e);
    });
  });
};

function settle(p) {
  return p.then(function (v) { return { ok: v }; }, function (e) {
    return { message: e.message, name: e.name, status: e.status || null,
      retryAfter: e.retryAfter || null, parameter: e.parameter || null, timeout: !!e.timeout };
  });
}
var ctrl = new AbortController();
var aborted = settle(C.getJSON('/slow', { signal: ctrl.signal }));
ctrl.abort();
var calls = 0;
var d = C.debounce(function (x) { calls += x; }, 5);
d(1); d(2); d(3);
Promise.all([
  settle(C.getJSON('/ok')), settle(C.getJSON('/bad')), settle(C.getJSON('/busy')),
  settle(C.getJSON('/html')), settle(C.getJSON('/down')), aborted,
  settle(C.getJSON('/slow', { timeoutMs: 20 })),
  new Promise(function (r) { setTimeout(r, 30); })
]).then(function (r) {
  process.stdout.write(JSON.stringify({
    ok: r[0], bad: r[1], busy: r[2], html: r[3], down: r[4], aborted: r[5], slow: r[6],
    request: seen[1], debounced: calls,
    url: C.apiUrl('/api/', '/stations', { kind: ['a', 'b'], open_now: true, x: false, q: ' ' }),
    attr: C.escapeAttr('"<a&b>"')
  }));
});
"""


def test_common_in_node():
    proc = subprocess.run(
        ["node", "-e", SCRIPT, str(JS / "i18n.js"), str(JS / "common.js")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    none = {"status": None, "retryAfter": None, "parameter": None, "timeout": False}
    assert got["ok"] == {"ok": {"a": 1}}
    assert got["bad"] == {
        **none,
        "message": "参数 kind 无效",
        "name": "Error",
        "status": 400,
        "parameter": "kind",
    }
    busy = {**none, "message": "HTTP 429", "name": "Error", "status": 429, "retryAfter": "7"}
    assert got["busy"] == busy
    assert got["html"] == {**none, "message": "服务器返回的数据无法解析", "name": "Error"}
    assert got["down"] == {**none, "message": "网络连接失败，请稍后重试", "name": "Error"}
    assert got["aborted"]["name"] == "AbortError"  # the caller's own abort passes through
    slow = {**none, "message": "服务器响应超时，请稍后重试", "name": "Error", "timeout": True}
    assert got["slow"] == slow
    request = {"url": "/ok", "accept": "application/json", "credentials": "same-origin"}
    assert got["request"] == request
    assert got["debounced"] == 3  # once, with the last call's argument
    assert got["url"] == "/api/stations?kind=a%2Cb&open_now=1"
    assert got["attr"] == "&quot;&lt;a&amp;b&gt;&quot;"
