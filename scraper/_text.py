"""Text normalization, word counting, digests, byte decoding, and phrase lists searched fast."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

import charset_normalizer

from scraper.errors import CaptureError

_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A word is a run of letters/digits; each CJK ideograph or kana counts as one word.
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\W_]+(?:['’.-][^\W_]+)*")
_BOM_ENCODINGS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_MAX_REPLACED_SHARE = 0.01
_NEWLINE = re.compile(r"\r\n|\r|\n")
_JOIN_EVERY = 8192


def sha256_hex(data: bytes | str) -> str:
    """Return the hex SHA-256 of bytes, or of a string's UTF-8 encoding."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def word_count(text: str) -> int:
    """Return the number of words in `text` (CJK characters count one each)."""
    return sum(1 for _ in _WORD.finditer(text))  # no list of every word: a 30 MB capture holds millions


def normalize_line(line: str) -> str:
    """Return one line in NFC with inner whitespace folded and control characters removed."""
    line = _CONTROL.sub("", unicodedata.normalize("NFC", line))
    return _INLINE_SPACE.sub(" ", line).strip()


def normalize_text(text: str) -> str:
    """Return `text` as NFC paragraphs separated by exactly one blank line.

    Consecutive table rows ("| a | b |") stay together, one row per line. Lines are read
    and written a piece at a time: memory follows the text, not its number of lines.
    """
    out: list[str] = []  # the result so far, in pieces joined every _JOIN_EVERY lines
    pending: list[str] = []
    in_table = False  # the last block written ends in a table row
    for raw in _lines(text):
        line = normalize_line(raw)
        if not line:
            continue
        row = line.startswith("|")
        pending.append(("\n" if row and in_table else "\n\n") if out or pending else "")
        pending.append(line)
        in_table = row
        if len(pending) >= _JOIN_EVERY:
            out.append("".join(pending))
            pending.clear()
    out.append("".join(pending))
    return "".join(out)


def _lines(text: str) -> Iterator[str]:
    """Yield the lines of `text` as str.split("\n") would after folding CR LF and CR to LF, one at a time."""
    start, end = 0, len(text)
    while start <= end:
        stop = _NEWLINE.search(text, start)
        if stop is None:
            yield text[start:]
            return
        yield text[start : stop.start()]
        start = stop.end()


def decode_bytes(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Return (text, encoding name) for `data`, detecting the encoding when none is declared.

    Raises CaptureError when no encoding gives text: undecodable or binary input.
    """
    for bom, encoding in _BOM_ENCODINGS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    if declared:
        text = _try_decode(data, declared)
        if text is not None:
            return text, declared.lower()
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    damaged = _damaged_utf8(data)
    if damaged is not None:
        return damaged
    best = charset_normalizer.from_bytes(data).best()
    if best is not None and not _looks_binary(str(best)):
        return str(best), best.encoding
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd")
    if replaced <= max(1, len(text) * _MAX_REPLACED_SHARE):
        return text, f"utf-8 ({replaced} bad bytes replaced)"
    raise CaptureError("undecodable: no text encoding fits these bytes")


def _damaged_utf8(data: bytes) -> tuple[str, str] | None:
    """Return UTF-8 text with bad bytes replaced when the data is mostly valid UTF-8.

    A legacy 8-bit file has (almost) no valid multi-byte sequences; UTF-8 with a few
    corrupted bytes has many. Detectors guess a legacy code page for the latter.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    if good >= 2 * bad and bad <= max(1, len(text) * _MAX_REPLACED_SHARE):
        return text, f"utf-8 ({bad} bad bytes replaced)"
    return None


def check_text(text: str) -> None:
    """Raise CaptureError when decoded `text` is really binary data."""
    if _looks_binary(text):
        raise CaptureError("binary content, not text")


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if not sample:
        return False
    return len(_CONTROL.findall(sample)) > len(sample) * 0.05


def phrases_by_first_character(pattern: str) -> str:
    r"""Return an alternation of phrases regrouped by first character: the same matches, found sooner.

    Python's regex engine tries every phrase of `a|b|...` at every position of a text; grouped
    (`a(?:dvertis|pp store)|s(?:hare|...)`) it tests one character per group and enters only
    the group that character begins. A phrase's leading `\b` (before a word character) becomes
    a look-behind once that character is read: `\bshare` is `s(?<!\w.)hare`. Phrases keep
    their order within a group, and no two groups begin with the same character in any case,
    so at each position the first phrase that matches is the one `pattern` would match: findall
    finds the same phrases. Each phrase must begin (after an optional `\b`) with one literal
    character or escape.
    """
    groups: dict[str, list[str]] = {}
    for phrase in _alternatives(pattern):
        bounded = phrase.startswith(r"\b")
        body = phrase[2:] if bounded else phrase
        width = 2 if body.startswith("\\") else 1
        first, rest = body[:width], body[width:]
        if not first or (width == 1 and first in "()[].^$*+?{}|") or (width == 2 and first[1].isalnum()):
            raise ValueError(f"phrase {phrase!r} does not begin with a literal character")
        if bounded and not re.fullmatch(r"\w", first):
            raise ValueError(f"phrase {phrase!r}: \\b before a non-word character")
        groups.setdefault(first, []).append((r"(?<!\w.)" if bounded else "") + rest)
    for first in groups:
        if any(other != first and re.fullmatch(first, other[-1], re.IGNORECASE) for other in groups):
            raise ValueError(f"two groups begin with {first!r} in some case")
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


def _alternatives(pattern: str) -> list[str]:
    """Return the top-level alternatives of a regular expression (outside groups and classes)."""
    found, depth, start, at, in_class = [], 0, 0, 0, False
    while at < len(pattern):
        char = pattern[at]
        if char == "\\":
            at += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            found.append(pattern[start:at])
            start = at + 1
        at += 1
    found.append(pattern[start:])
    return found
