"""Charts drawn on the server as SVG: nothing to load, nothing to run in the browser."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 22, 6, 220, 440, 90


def bar_chart(pairs: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value), largest scaled to the full width. The SVG
    has a title and a text alternative (role="img"), and each bar says its value."""
    top = max((value for _, value in pairs), default=0) or 1
    height = len(pairs) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {max(height, 30)}"'
             f' role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for n, (label, value) in enumerate(pairs):
        y = GAP + n * (BAR_HEIGHT + GAP)
        length = max(1, round(BAR_WIDTH * value / top)) if value else 0
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" font-size="13">'
            f'{escape(_short(label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}"'
            f' fill="#0b5cad"><title>{escape(label)}: {_number(value)}{escape(unit)}</title>'
            f'</rect><text x="{LABEL_WIDTH + length + 6}" y="{y + 16}" font-size="13">'
            f'{_number(value)}{escape(unit)}</text>')
    if not pairs:
        parts.append('<text x="10" y="20" font-size="13">No data</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str, limit: int = 30) -> str:
    label = str(label)
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
