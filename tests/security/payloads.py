"""Hostile strings for the standing security suite: put each in every text field of every new
page or file format (station names, unions, addresses, candidate names, notes ...).

``PAYLOADS`` try to run script where text is placed in HTML or JavaScript (tags, attribute
breaks, ``</script>``, template-literal interpolation and backticks, line separators);
``FORMULAS`` try to run as spreadsheet formulas when a CSV or XLSX export is opened (OWASP CSV
injection). Both are plain lists so more can be appended.
"""

from __future__ import annotations

#: Script in HTML/JavaScript contexts.
PAYLOADS: list[str] = [
    '${alert("x")}',
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    "`;alert(1);`",
    "`${alert(1)}`",
    "\\`);alert(1);//",
    "a\u2028b\u2029c;alert(1)",
    "<iframe srcdoc='<script>parent.alert(1)</script>'></iframe>",
    "{{ 7*7 }} {{ cycler.__init__.__globals__.os.getpid() }}",
    "{% raw %}",
    "{# not a comment",
    "&lt;b&gt;not bold&lt;/b&gt; &amp;",
    "javascript:alert(1)",
]

#: Spreadsheet formulas (a leading =, +, -, @, tab or carriage return).
FORMULAS: list[str] = [
    '=HYPERLINK("http://evil","x")',
    "=cmd|' /C calc'!A0",
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",
    "-",
    "+86 10 1234 5678",
]
