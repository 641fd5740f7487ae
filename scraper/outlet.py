"""Who published a text capture: the outlet a plain-text capture names in its own lines.

A text capture has no URL and no markup, so all it can say of its publisher is in its
text: a brand line heading the page and repeated in it, a copyright holder, "Support X by
linking", "Trending on X", "X uses cookies", "credit to x.com" (the page's publisher); and
who first published the story: "The post ... appeared first on X", an "(AGENCY)" dateline,
"a request for comment from X" (its origin). Each cue is a claim kept with the rule that
found it and the line it sits on; nothing is guessed from a file name or a list of sites.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from scraper._linemodel import default_model

__all__ = ["OUTLET_RULES_VERSION", "Cue", "Outlet", "find_outlet"]

# Bumped whenever a rule changes what is found; recorded with each claim.
OUTLET_RULES_VERSION = "1"

# A name as captures spell one: capitalized words ("New York Post", "MENAFN", "NaturalNews.com"),
# small joining words allowed inside ("Bank of America", "The Times and Democrat").
_WORD = r"[A-Z0-9][\w'’&+.-]*"
_NAME = rf"{_WORD}(?:[ \t]+(?:(?:of|the|and|for|on|de|du|la|le|del|der|die|und|y|e)[ \t]+)?{_WORD}){{0,5}}"
# A copyright line names its holder beside a year ("© 2025 Name", "Name © 2025"); a "©" with no
# year is usually a photo credit, which names a photographer or an agency, not the page's publisher.
_COPYRIGHT = r"(?:(?i:copyright)\s*(?:©|\([cC]\))?|©|\([cC]\))"
_YEARS = r"\d{4}(?:\s*[-–]\s*\d{4})?"
_DOMAIN = r"(?:[A-Za-z0-9-]+\.)+(?:com|org|net|news|info|co\.uk|com\.au|de|fr|es|it|nl|ca|in|io|tv|us|uk)\b"
_DOMAIN_RE = re.compile(_DOMAIN)

_SUPPORT = (
    rf"(?i:\bsupport)\s+(?P<name>{_NAME})\s+(?i:by\s+(?:linking|sharing|donating|subscribing|becoming|joining))\b"
)
_TRENDING = rf"^(?i:trending|popular|most\s+(?:read|popular|viewed|shared))\s+on\s+(?P<name>{_NAME})\s*$"
_FIRST_ON = r"(?i:appeared\s+first\s+(?:on|in)|(?:originally|first)\s+(?:appeared|published)\s+(?:on|in|by))"
_COMMENT_FROM = rf"(?i:request\s+for\s+comment\s+from)\s+(?:the\s+)?(?P<name>{_NAME})"
_COMMENT_TO = (
    rf"(?i:respond|reply)(?:ed)?\s+to\s+(?:the\s+|an?\s+)?(?P<name>{_NAME})(?:['’]s)?\s+(?i:request\s+for\s+comment)"
)
# (rule, role, weight, pattern): a publisher cue names whose page this is; an origin cue names who
# first published the story (a republished or syndicated text names both).
_RULES: tuple[tuple[str, str, int, re.Pattern[str]], ...] = (
    ("support by linking", "publisher", 3, re.compile(_SUPPORT)),
    ("trending on", "publisher", 2, re.compile(_TRENDING)),
    ("uses cookies", "publisher", 1, re.compile(rf"^(?P<name>{_NAME})\s+(?i:uses\s+cookies)\b")),
    ("copyright", "publisher", 2, re.compile(rf"{_COPYRIGHT}\s*{_YEARS}\s*,?\s*(?P<name>{_NAME})")),
    ("copyright", "publisher", 2, re.compile(rf"{_COPYRIGHT}\s*(?P<name>{_NAME})\s*,?\s*{_YEARS}")),
    ("copyright", "publisher", 2, re.compile(rf"(?P<name>{_NAME})\s*{_COPYRIGHT}\s*{_YEARS}")),
    ("credit to", "publisher", 2, re.compile(rf"(?i:(?:credit|attribution)\s+to)\s+(?P<name>{_DOMAIN})")),
    ("appeared first on", "origin", 3, re.compile(rf"{_FIRST_ON}\s+(?P<name>{_NAME})")),
    ("request for comment", "origin", 2, re.compile(_COMMENT_FROM)),
    ("request for comment", "origin", 2, re.compile(_COMMENT_TO)),
)
# Only lines holding one of these (lower-cased) can match a rule: the rest are not searched.
_TRIGGERS = (
    "support",
    "trending",
    "popular",
    "most ",
    "cookies",
    "©",
    "(c)",
    "copyright",
    "credit",
    "attribution",
    "appeared",
    "published",
    "comment",
)
# An agency's dateline opening a paragraph: "(MENAFN) Mexican ...", "(EFE).- ...", "London (CNN)It ...",
# "Berlin (dpa) - ...", "WASHINGTON (Reuters) — ...", "HOUSTON, Texas (KTRK) -- ...". After a place in
# title case only an acronym counts, and a dash (or text glued on) must follow: "Rostow (Russland) -"
# names a country, "the Authority (ABC) said" an abbreviation.
_PLACE = r"[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+)?(?:, ?[A-Z][\w.'’]*(?: [A-Z][\w.'’]*){0,2})?"
_CAPS_PLACE = r"[A-Z][A-Z.'’-]{2,}(?: [A-Z][A-Z.'’-]+){0,2}(?:, ?[A-Z][\w.'’]*(?: [A-Z][\w.'’]*){0,2})?"
_DASH = r" *\.?[-–—]+ *"
_DATELINE = re.compile(
    r"^(?:\((?P<lead>[A-Z][A-Z&]{1,11})\)\s*(?:\.?[-–—]+\s*)?(?=[A-Z\"“‘'])"
    rf"|(?:{_PLACE} +)?\((?P<acronym>[A-Z][A-Z&]{{1,11}}|[a-z]{{2,4}})\)(?:{_DASH}|(?=[A-Z]))"
    rf"|(?:{_CAPS_PLACE} +)?\((?P<agency>[A-Z][\w&]{{1,15}}(?:[ -][A-Z][\w&]+){{0,2}})\){_DASH})"
)
_DATELINE_START = frozenset("(ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÄÅÇÉÈÊËÍÎÑÓÔÖØÚÜ")
_DATELINE_WEIGHT = 2
_DATELINE_MIN_WORDS = 12
# Words that open or fill such slots without naming anyone.
_NOT_NAMES = re.compile(
    r"^(?:this|that|our|we|it|its|your|you|copyright|the site|the website|the author|all|rights|photos?|videos?"
    r"|update|updated|opinion|analysis|editorial|watch|listen|audio|sponsored|advertisement|live|breaking"
    r"|ap photo|file|getty|reuters photo|creative commons|derechos|términos|terms|conditions|condiciones|privacy"
    r"|datenschutz\w*|impressum|nutzungsbedingungen|mentions|eine marke|alle|tous|todos|powered|theme"
    r"|free blogger|(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|june|july|august"
    r"|september|october|november|december|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|\d+)\b",
    re.IGNORECASE,
)
# A section word after the outlet in "Trending on Townhall Videos".
_SECTION_TAIL = re.compile(r"(?:[ \t]+(?:Videos?|Podcasts?|Photos?|Today|Now|Right Now|This Week|News Feed))+$")
# Organizational suffixes that leave the outlet the same ("Natural News Network", "naturalnews.com").
_SUFFIXES = ("network", "media", "group", "inc", "llc", "ltd", "limited", "corp", "company", "tv")
_TLD = re.compile(r"\.(?:com|org|net|news|info|co\.uk|com\.au|[a-z]{2})$", re.IGNORECASE)
# Where a name's run of capitalized words ends: a full stop after a word ("KGO-TV. All Rights
# Reserved"; "U.S. News" goes on), or the words of a rights notice.
_NAME_END = re.compile(
    r"(?<=[a-z0-9]{2}|[A-Z]{2})\.\s|\s(?:All|Alle|Tous|Todos|Tutti|Derechos|Diritti|Direitos|Rights|Privacy|Terms)\b"
)
_BRAND_WORDS = 3
_BRAND_CHARS = (3, 40)
_TOKEN = re.compile(r"\w+")
_BRAND_SHAPE = re.compile(r"\w*[A-Z]\w*[A-Z]")
# Lines a page's head repeats that are navigation, not a brand.
_NAVIGATION = re.compile(
    r"^(?:home|menu|search|close|open|news|more|next|previous|back|top|login|log in|sign in|sign up"
    r"|subscribe|register|account|skip to (?:content|main content)|main menu|navigation|toggle navigation"
    r"|no results?|view all(?: results?)?|advertisement|sections?|latest|trending|share)$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[•◦▪●○■□‣⁃∙·*+–—-]\s+")
_SENTENCE_END = re.compile(r"[.!?:;,]$")


@dataclass(frozen=True, slots=True)
class Cue:
    """One line of a capture naming an outlet: the name as written, the rule, where it sits."""

    name: str
    rule: str
    role: str  # "publisher": whose page this is; "origin": who first published the story
    line: int  # 1-based, in the text searched
    weight: int


@dataclass(frozen=True, slots=True)
class Outlet:
    """The outlet a text capture names: who published it, and who first did when that differs."""

    name: str
    domain: str | None  # a domain the capture names for the same outlet ("naturalnews.com")
    cues: tuple[Cue, ...]  # the cues naming it
    origin: str | None = None  # another outlet the story first appeared on, when a cue says so
    origin_cues: tuple[Cue, ...] = ()

    @property
    def site(self) -> str:
        """Return what names the outlet as a site: the domain it gives for itself, else its name."""
        return self.domain or self.name

    def claim(self) -> dict[str, Any]:
        """Return the claim as JSON-ready provenance: the outlet, and the rules and lines that found it."""
        found: dict[str, Any] = {
            "name": self.name,
            "domain": self.domain,
            "found_by": [_cue_dict(c) for c in self.cues],
            "rules_version": OUTLET_RULES_VERSION,
        }
        if self.origin is not None:
            found["origin"] = {"name": self.origin, "found_by": [_cue_dict(c) for c in self.origin_cues]}
        return found


def find_outlet(text: str, common_words: Collection[str] | None = None) -> Outlet | None:
    """Return the outlet a text capture names for itself, or None when its lines name none.

    The publisher is the outlet the publisher cues name most strongly; with none, the
    origin cues' outlet stands for it (a wire story on no named page). `common_words`
    (default: the line model's lexicon, words seen on many sites) are words no brand
    line is made of: "Home", "Startseite", "Newsletter" head pages of every site.
    """
    lines = text.split("\n")
    domains = _Domains(text)
    common = _common_words() if common_words is None else common_words
    cues = [*_rule_cues(text, lines), *_brand_cue(lines, common, domains)]
    publisher = _strongest([c for c in cues if c.role == "publisher"])
    origin = _strongest([c for c in cues if c.role == "origin"])
    if publisher is None:
        publisher, origin = origin, None
    if publisher is None:
        return None
    key = _key(publisher[0].name)
    if origin is not None and _key(origin[0].name) == key:
        publisher, origin = publisher + origin, None
    return Outlet(
        name=_spelling(publisher),
        domain=domains.get(key),
        cues=tuple(sorted(publisher, key=lambda c: c.line)),
        origin=_spelling(origin) if origin else None,
        origin_cues=tuple(sorted(origin, key=lambda c: c.line)) if origin else (),
    )


class _Domains:
    """The domains a capture names, by outlet key; looked for only when asked (most captures never are)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.found: dict[str, str] | None = None

    def get(self, key: str) -> str | None:
        if self.found is None:
            self.found = {_key(m.group(0)): m.group(0).lower() for m in _DOMAIN_RE.finditer(self.text)}
        return self.found.get(key)


def _rule_cues(text: str, lines: list[str]) -> list[Cue]:
    """Return the cues the line rules find: on lines holding a trigger word, and the first dateline."""
    cues: list[Cue] = []
    low = text.lower()  # as many line breaks as the text: numbers found in it hold for the text
    hits = sorted(at for word in _TRIGGERS for at in _positions(low, word))
    number, last, done = 1, 0, 0
    for at in hits:
        number += low.count("\n", last, at)
        last = at
        if number > done:
            done = number
            cues.extend(_line_cues(lines[number - 1].strip(), number))
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line[:1] in _DATELINE_START and line.count(" ") + 1 >= _DATELINE_MIN_WORDS:
            dated = _DATELINE.match(line)
            name = _clean(next(n for n in dated.groups() if n), "dateline") if dated else None
            if name:
                cues.append(Cue(name, "agency dateline", "origin", number, _DATELINE_WEIGHT))
                break
    return cues


def _positions(text: str, word: str) -> Iterator[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + len(word))


def _line_cues(line: str, number: int) -> Iterator[Cue]:
    for rule, role, weight, pattern in _RULES:
        for match in pattern.finditer(line):
            name = _clean(match.group("name"), rule)
            if name:
                yield Cue(name, rule, role, number, weight)


def _common_words() -> Collection[str]:
    model = default_model()
    return model.lexicon if model is not None else ()


def _brand_cue(lines: list[str], common: Collection[str], domains: _Domains) -> list[Cue]:
    """Return the brand line: the capture's first line, a name of words no other site uses, repeated in the page.

    It must look like a brand (capitals inside a word: "DNYUZ", "FIFPlay") or match a domain
    the capture names: a title-case word heading a page is as often a section as a name.
    """
    number, first = next(((n, raw.strip()) for n, raw in enumerate(lines, start=1) if raw.strip()), (0, ""))
    first = _BULLET.sub("", first)
    words = first.split()
    if (
        not first
        or len(words) > _BRAND_WORDS
        or not _BRAND_CHARS[0] <= len(first) <= _BRAND_CHARS[1]
        or _SENTENCE_END.search(first)
        or not all(w[:1].isupper() or w[:1].isdigit() for w in words)
        or not any(ch.isalpha() for ch in first)
        or _NAVIGATION.match(first)
        or _NOT_NAMES.match(first)
        or any(w.casefold() in common for w in _TOKEN.findall(first))
        or sum(1 for raw in lines if first in raw and _BULLET.sub("", raw.strip()) == first) < 2
        or not (_BRAND_SHAPE.search(first) or domains.get(_key(first)))
    ):
        return []
    return [Cue(first, "brand line", "publisher", number, 2)]


def _clean(name: str, rule: str) -> str | None:
    """Return a matched name without trailing punctuation and section words, or None if it names no one."""
    name = _NAME_END.split(name, maxsplit=1)[0].strip().rstrip(".,:;!?'’")
    if rule == "trending on":
        name = _SECTION_TAIL.sub("", name)
    if name.lower().startswith("the "):
        name = name[4:]
    if not name or _NOT_NAMES.match(name) or len(name) < 2 or not any(ch.isalpha() for ch in name):
        return None
    return name


def _key(name: str) -> str:
    """Return what two spellings of one outlet share: "Natural News Network", "NaturalNews.com" -> naturalnews."""
    squashed = re.sub(r"\W|_", "", _TLD.sub("", name.casefold()).removeprefix("the "))
    for suffix in _SUFFIXES:
        if squashed.endswith(suffix) and len(squashed) > len(suffix) + 2:
            return squashed[: -len(suffix)]
    return squashed


def _strongest(cues: list[Cue]) -> list[Cue] | None:
    """Return the cues of the outlet named with the most weight (ties: the one named first)."""
    groups: dict[str, list[Cue]] = {}
    for cue in cues:
        groups.setdefault(_key(cue.name), []).append(cue)
    if not groups:
        return None
    return max(groups.values(), key=lambda g: (sum(c.weight for c in g), -min(c.line for c in g)))


def _spelling(cues: list[Cue]) -> str:
    """Return the outlet's name as its cues spell it most often, preferring a name to a domain."""
    names = Counter(c.name for c in cues)
    return min(names, key=lambda n: (bool(_TLD.search(n)), -names[n], len(n)))


def _cue_dict(cue: Cue) -> dict[str, Any]:
    return {"rule": cue.rule, "line": cue.line, "text": cue.name}
