"""The JavaScript the harness runs in the page, kept in ``js/<name>.js`` and read at run time.

Each file holds one function expression that Playwright's ``page.evaluate(source, arg)`` calls with
``arg``. Lines starting with ``//`` at the top of a file are its description (dropped before use);
``/* include: other */`` pastes ``js/other.js`` in place (a helper two functions share).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

JS_DIR = Path(__file__).with_name("js")
_INCLUDE = re.compile(r"/\* include: (\w+) \*/")


@cache
def js(name: str) -> str:
    """The source of ``js/<name>.js``, header comment dropped and includes resolved."""
    lines = (JS_DIR / f"{name}.js").read_text().splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return _INCLUDE.sub(lambda m: js(m.group(1)), "\n".join(lines)).strip()
