"""Page requisites: the stylesheets, scripts, images, media and fonts a page needs to render, found in its HTML and CSS.

Plain functions, no network: `html_requisites` reads a parsed page (parsel, over lxml),
`css_requisites` a stylesheet, both in document order with duplicates dropped, and `allot`
shares a page's count cap between its own references and those of the stylesheets it loads.
The CSS reading is a small tokenizer after CSS Syntax Level 3 (comments, strings, escapes,
`url()` tokens and functions), enough to find references without mistaking a string, a comment
or an `@namespace` for one; it does not parse rules or properties.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

from parsel import Selector

__all__ = ["Requisite", "allot", "css_references", "css_requisites", "html_requisites", "srcset_urls"]

# <link rel=...> tokens whose href the page loads to render (not rel=alternate, prefetch or canonical).
_LINK_RELS = frozenset(
    {"stylesheet", "icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon", "preload", "modulepreload"}
)
# Elements whose attributes name requisites, with the attributes that do (srcset-style ones apart).
_URL_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src",),
    "source": ("src",),
    "video": ("poster", "src"),
    "audio": ("src",),
    "track": ("src",),
    "body": ("background",),
    "table": ("background",),
    "td": ("background",),
    "th": ("background",),
}
_SRCSET_ATTRIBUTES = {"img": "srcset", "source": "srcset", "link": "imagesrcset"}
_CANDIDATES = "//link[@href] | //script[@src] | //img | //source | //video | //audio | //track | //input[@src]"
_ELEMENTS = f"{_CANDIDATES} | //*[@style] | //*[@background] | //style"
# Functions whose string argument is a URL: url("x"), src("x"), image-set("a.png" 1x, ...).
_URL_FUNCTIONS = frozenset({"url", "src", "image-set", "-webkit-image-set"})
_FETCHABLE = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class Requisite:
    """A URL a page needs to render; `stylesheet`: fetched as CSS, whose own references count against the page's cap."""

    url: str
    stylesheet: bool = False


def html_requisites(page: Selector, url: str) -> list[Requisite]:
    """Return the requisites a parsed HTML page references, absolute (against its <base href>), in document order."""
    base = urljoin(url, (page.xpath("//base/@href").get() or "").strip())
    found: list[Requisite | None] = []
    for element in page.xpath(_ELEMENTS):
        found.extend(_element_requisites(element, base))
    return _once(found)


def css_requisites(css: str, url: str) -> list[Requisite]:
    """Return the requisites a stylesheet references (against `url`), its @imports as stylesheets, in order."""
    return _once(_requisite(url, ref, imported) for ref, imported in css_references(css))


def _element_requisites(element: Selector, base: str) -> Iterator[Requisite | None]:
    root = element.root
    tag = root.tag.lower() if isinstance(root.tag, str) else ""
    attrib = element.attrib
    if tag == "style":
        text = element.xpath("string()").get() or ""
        yield from (_requisite(base, ref, imported) for ref, imported in css_references(text))
        return
    if tag == "link":
        rels = set(attrib.get("rel", "").lower().split())
        if not rels & _LINK_RELS:
            return
        sheet = "stylesheet" in rels or ("preload" in rels and attrib.get("as", "").strip().lower() == "style")
        yield _requisite(base, attrib.get("href", ""), sheet)
    names = _URL_ATTRIBUTES.get(tag, ())
    if tag == "input" and attrib.get("type", "").strip().lower() == "image":
        names = ("src",)
    yield from (_requisite(base, attrib.get(name, "")) for name in names)
    srcset = _SRCSET_ATTRIBUTES.get(tag)
    if srcset and attrib.get(srcset):
        yield from (_requisite(base, candidate) for candidate in srcset_urls(attrib[srcset]))
    if attrib.get("style"):
        yield from (_requisite(base, ref) for ref, _ in css_references(attrib["style"]))


def _requisite(base: str, ref: str, stylesheet: bool = False) -> Requisite | None:
    """Return the requisite `ref` names against `base`: http(s) only, without its fragment; None for none.

    A reference to a fragment alone (`url(#clip)`, an SVG filter) names a part of the same
    document, not a resource to fetch.
    """
    ref = ref.strip()
    if not ref or ref.startswith("#"):
        return None
    url = urldefrag(urljoin(base, ref)).url
    return Requisite(url, stylesheet) if url.startswith(_FETCHABLE) else None


def _once(found: Iterable[Requisite | None]) -> list[Requisite]:
    """Return the requisites in order of first mention, each URL once (a stylesheet if any mention says so)."""
    kept: dict[str, Requisite] = {}
    for requisite in found:
        if requisite is None:
            continue
        if requisite.url not in kept or requisite.stylesheet:
            kept[requisite.url] = requisite  # a dict keeps the first mention's place
    return list(kept.values())


def srcset_urls(srcset: str) -> list[str]:
    """Return the URLs of a srcset attribute's image candidates (the HTML standard's parsing, descriptors dropped).

    A URL may hold commas (`a.jpg?w=1,2 2x`): only a comma after whitespace, or at the URL's end, ends a candidate.
    """
    urls: list[str] = []
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            position = _skip_descriptors(srcset, position)
        if url:
            urls.append(url)
    return urls


def _skip_descriptors(srcset: str, position: int) -> int:
    """Return the position after a candidate's descriptors: at its ending comma (outside parentheses), or the end."""
    depth = 0
    while position < len(srcset):
        char = srcset[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            return position + 1
        position += 1
    return position


def allot(found: Sequence[Requisite], budget: int) -> tuple[list[tuple[Requisite, int]], int]:
    """Return the first `budget` requisites, each stylesheet with its share of what is left, and how many were over.

    What the page's own references leave of its cap is shared out evenly between the
    stylesheets among them (the first ones get the remainder), and each stylesheet shares its
    part the same way with those it imports: a page and everything it loads stay within one cap.
    """
    budget = max(0, budget)
    taken = list(found[:budget])
    left = budget - len(taken)
    sheets = sum(1 for r in taken if r.stylesheet)
    allotted: list[tuple[Requisite, int]] = []
    nth = 0
    for requisite in taken:
        share = 0
        if requisite.stylesheet:
            share = left // sheets + (1 if nth < left % sheets else 0)
            nth += 1
        allotted.append((requisite, share))
    return allotted, len(found) - len(taken)


# --- a CSS tokenizer, as far as references need -------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]{1,6}")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_\-\u0080-\U0010ffff]")


def css_references(css: str) -> list[tuple[str, bool]]:
    """Return (reference as written, whether it is an @import) for every URL a stylesheet or style attribute names.

    URLs are url() tokens, and strings given to url(), src() or image-set(), or directly to
    @import; an @namespace's URL names no resource and is left out, as are comments and the
    text of other strings.
    """
    found: list[tuple[str, bool]] = []
    functions: list[str] = []  # the functions we are inside, innermost last
    at_rule = ""  # the at-rule whose prelude we are in ("" outside one)
    for kind, value in _tokens(css):
        if kind == "at":
            at_rule = value
        elif kind == "delim" and value in ";{}":
            at_rule = ""
        elif kind == "function":
            functions.append(value)
        elif kind == "(":
            functions.append("")
        elif kind == ")":
            if functions:
                functions.pop()
        elif kind == "url" or (kind == "string" and (functions[-1:] and functions[-1] in _URL_FUNCTIONS)):
            if at_rule != "namespace" and value.strip():
                found.append((value.strip(), at_rule == "import"))
        elif kind == "string" and at_rule == "import" and not functions:
            found.append((value, True))
    return found


def _tokens(css: str) -> Iterator[tuple[str, str]]:
    """Yield (kind, value): at (keyword, lowercased), function (name, lowercased), url, string, (, ), delim."""
    i, n = 0, len(css)
    while i < n:
        char = css[i]
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in "\"'":
            value, i = _string(css, i + 1, char)
            yield "string", value
        elif char == "@" and i + 1 < n and _starts_name(css, i + 1):
            name, i = _name(css, i + 1)
            yield "at", name.lower()
        elif _starts_name(css, i):
            name, i = _name(css, i)
            if i < n and css[i] == "(":
                i += 1
                if name.lower() == "url" and (url := _unquoted_url(css, i)) is not None:
                    value, i = url
                    yield "url", value
                else:
                    yield "function", name.lower()
        else:
            i += 1
            yield ("(" if char == "(" else ")" if char == ")" else "delim"), char


def _starts_name(css: str, i: int) -> bool:
    """Return whether an identifier starts at `i` (a name character, an escape, or '-' before one)."""
    char = css[i]
    if char == "-":
        return i + 1 < len(css) and (css[i + 1] == "-" or _starts_name(css, i + 1))
    if char == "\\":
        return i + 1 < len(css) and css[i + 1] != "\n"
    return bool(_NAME_CHAR.match(char)) and not char.isdigit()


def _name(css: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while i < len(css):
        if css[i] == "\\" and i + 1 < len(css) and css[i + 1] != "\n":
            char, i = _escape(css, i + 1)
            out.append(char)
        elif _NAME_CHAR.match(css[i]):
            out.append(css[i])
            i += 1
        else:
            break
    return "".join(out), i


def _string(css: str, i: int, quote: str) -> tuple[str, int]:
    """Return a string's value and the position after it (an unescaped newline ends a bad string)."""
    out: list[str] = []
    while i < len(css):
        char = css[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\n":
            return "".join(out), i
        if char == "\\":
            if css.startswith("\r\n", i + 1):
                i += 3
            elif i + 1 < len(css) and css[i + 1] in "\n\f\r":
                i += 2  # an escaped newline continues the string
            elif i + 1 < len(css):
                escaped, i = _escape(css, i + 1)
                out.append(escaped)
            else:
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out), i


def _unquoted_url(css: str, i: int) -> tuple[str, int] | None:
    """Return an unquoted url( ... )'s value and the position after its ')', or None when it is quoted."""
    while i < len(css) and css[i].isspace():
        i += 1
    if i < len(css) and css[i] in "\"'":
        return None  # url("x"): a function with a string argument
    out: list[str] = []
    while i < len(css) and css[i] != ")":
        if css[i] == "\\" and i + 1 < len(css):
            char, i = _escape(css, i + 1)
            out.append(char)
            continue
        out.append(css[i])
        i += 1
    return "".join(out).strip(), min(i + 1, len(css))


def _escape(css: str, i: int) -> tuple[str, int]:
    """Return the character an escape (after its backslash, at `i`) stands for, and the position after it."""
    match = _HEX.match(css, i)
    if match is None:
        return css[i], i + 1
    point = int(match.group(), 16)
    end = match.end()
    if css.startswith("\r\n", end):
        end += 2
    elif end < len(css) and css[end] in " \t\n\r\f":
        end += 1
    valid = 0 < point <= 0x10FFFF and not 0xD800 <= point <= 0xDFFF
    return (chr(point) if valid else "\ufffd"), end
