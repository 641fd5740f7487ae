"""Dates written in page text: "May 4, 2025", "4 May 2025", "2025-05-04", "05/06/2025"."""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "january jan janvier januar enero gennaio janeiro januari",
            "february feb février februar febrero febbraio fevereiro februari",
            "march mar mars märz marzo março maart",
            "april apr avril abril aprile",
            "may mai mayo maggio maio mei",
            "june jun juin juni junio giugno junho",
            "july jul juillet juli julio luglio julho",
            "august aug août agosto augustus",
            "september sep sept septembre settembre setembro",
            "october oct octobre oktober octubre ottobre outubro",
            "november nov novembre noviembre novembro",
            "december dec décembre dezember diciembre dicembre dezembro",
        ),
        start=1,
    )
    for name in names.split()
}
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), ("mn", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})\.?\s+(?:de\s+)?({_MONTH})\.?,?\s+(?:de\s+)?(\d{{4}})\b", re.I), ("d", "mn", "y")),
    (re.compile(r"\b(\d{4})年(\d{1,2})月(\d{1,2})日"), ("y", "m", "d")),
    # Dotted numeric dates are day-first across Europe; slashed ones month-first when ambiguous.
    (re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"), ("d", "m", "y")),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), ("a", "b", "y")),
)


# Every pattern holds a four-digit year: text without four digits in a row (most lines) holds no date.
_YEAR = re.compile(r"\d{4}")


def find_date(text: str) -> str | None:
    """Return the first calendar date written in `text` as YYYY-MM-DD, or None."""
    if not _YEAR.search(text):
        return None
    for pattern, order in _PATTERNS:
        for match in pattern.finditer(text):
            found = _to_iso(dict(zip(order, match.groups(), strict=True)))
            if found:
                return found
    return None


def _to_iso(parts: dict[str, str]) -> str | None:
    year = int(parts["y"])
    if "mn" in parts:
        month, day = _MONTHS[parts["mn"].lower()], int(parts["d"])
    elif "a" in parts:
        # 05/06/2025: month first unless the first number cannot be a month.
        first, second = int(parts["a"]), int(parts["b"])
        month, day = (second, first) if first > 12 else (first, second)
    else:
        month, day = int(parts["m"]), int(parts["d"])
    try:
        return date(year, month, day).isoformat() if 1900 <= year <= 2200 else None
    except ValueError:
        return None
