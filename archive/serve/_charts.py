"""The pages' pictures as geometry: bar charts and timelines the templates draw as inline SVG (no script, no CDN)."""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["HEIGHT", "WIDTH", "bars", "timeline"]

WIDTH, HEIGHT = 600, 120
_GAP = 2


def bars(points: list[tuple[str, int]], *, ceiling: int | None = None) -> dict[str, Any]:
    """Return a bar per (label, value), scaled to the largest value (or `ceiling`), left to right."""
    top = max([ceiling or 0, *(value for _, value in points), 1])
    step = WIDTH / max(1, len(points))
    drawn = []
    for i, (label, value) in enumerate(points):
        height = round(HEIGHT * value / top, 1)
        drawn.append(
            {
                "x": round(i * step, 1),
                "y": round(HEIGHT - height, 1),
                "w": round(max(1.0, step - _GAP), 1),
                "h": height,
                "label": label,
                "value": value,
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "top": top, "bars": drawn}


def timeline(days: list[str]) -> dict[str, Any]:
    """Return a dot per ISO day on a line from the first day to the last (one day: the middle)."""
    parsed = [(day, _parsed(day)) for day in days]
    known = [when for _, when in parsed if when is not None]
    if not known:
        return {"width": WIDTH, "dots": []}
    first, last = min(known), max(known)
    span = (last - first).days
    dots = []
    for day, when in parsed:
        if when is None:
            continue
        share = (when - first).days / span if span else 0.5
        dots.append({"x": round(10 + share * (WIDTH - 20), 1), "day": day})
    return {"width": WIDTH, "first": first.isoformat(), "last": last.isoformat(), "dots": dots}


def _parsed(day: str) -> date | None:
    try:
        return date.fromisoformat(day[:10])
    except ValueError:
        return None
