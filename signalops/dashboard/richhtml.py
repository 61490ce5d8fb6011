"""Rich text (the CLI's coloured trees) as HTML for the browser: the same lines, same colours."""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

# Wide enough that no tree line wraps (the CLI never wraps them either).
_WIDTH = 400
_PRE = (
    '<pre style="font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; '
    "line-height: 1.45; background: #f6f8fa; padding: 12px 14px; border-radius: 8px; "
    'overflow-x: auto; margin: 0">{code}</pre>'
)


def text_html(lines: Iterable[Text]) -> str:
    """``<pre>`` with inline colours; rich escapes the text, so record contents stay text."""
    console = Console(
        record=True, width=_WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
    return console.export_html(inline_styles=True, code_format=_PRE)
