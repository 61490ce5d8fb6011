"""The dashboard on a phone: the styles Streamlit's own get wrong on a narrow screen.

- Text fields (the login, the approval's note, the searchable lists) at 16 px: Streamlit draws
  them at 14 px, and iOS Safari zooms the page into a field under 16 px when it takes focus
  (and leaves it zoomed).
- The approval's explanation (its logic tree, and the whole decision as ``signalops why``
  prints it) wraps its long lines: those blocks scroll sideways, and a phone shows no
  scrollbar, so each line looked cut at the screen's edge. Only where the lines break changes,
  not the text. Every code block and rich-text block wraps so (the Decisions page's
  ``signalops why`` text and the Strategies page's trees had the same edge).

A desktop browser (wider than ``NARROW`` and with a mouse) gets none of it: its pages are as
they were.
"""

from __future__ import annotations

import streamlit as st

# Streamlit's own narrow-screen width, and any touch screen (a phone turned sideways is wider).
NARROW = "(max-width: 640px), (pointer: coarse)"
# !important: Streamlit sets these on the elements themselves (the code's white-space inline).
CSS = f"""
@media {NARROW} {{
  .stApp input, .stApp textarea {{ font-size: 16px !important; }}
  .stApp [data-testid="stCode"] code, .stApp [data-testid="stHtml"] pre {{
    white-space: pre-wrap !important;
    overflow-wrap: anywhere;
  }}
}}
"""


def style() -> None:
    """Add the styles to the page (a style-only st.html takes no room on it)."""
    st.html(f"<style>{CSS}</style>")
