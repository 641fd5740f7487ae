"""HTML extraction with trafilatura, dates judged against the capture's own date."""

from __future__ import annotations

import re
import string
from importlib.metadata import version
from typing import Any

import trafilatura
from htmldate import find_date
from htmldate.extractors import get_external_parser
from lxml import etree
from lxml import html as lxml_html
from lxml.etree import ParserError
from trafilatura.settings import Document
from trafilatura.utils import is_dubious_html, repair_faulty_html

from scraper._extraction import Extraction
from scraper._text import word_count
from scraper.errors import CaptureError

TRAFILATURA_VERSION = version("trafilatura")
READABILITY_VERSION = version("readability-lxml")
# htmldate hands a date expression its own patterns cannot read to dateparser, which tries every
# language it knows (about 200) and compiles each one's patterns the first time it tries it: a
# string no language claims compiles them all, seconds per process. These languages write the
# dates dateparser is asked for here: the published dates of the 990 evaluation pages and of the
# 2,191 more-dev pages (1,833 dated) are the same with them as with every language.
DATE_LANGUAGES = (
    "ar", "cs", "da", "de", "el", "en", "es", "fi", "fr", "hu", "id", "it",
    "ja", "ko", "nb", "nl", "pl", "pt", "ro", "ru", "sv", "tr", "uk", "zh",
)  # fmt: skip
EXTRACTOR_OPTIONS: dict[str, Any] = {
    "favor_precision": False,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "date_extraction": {"original_date": True, "extensive_search": True},
    "date_languages": " ".join(DATE_LANGUAGES),  # what dateparser may read a date in
    "prune": "cookie/consent/gdpr containers",
    "fallback": "readability-lxml when trafilatura keeps <20% of visible words and <30% of readability's text",
}
# trafilatura now and then keeps only a sliver of an article set in unusual markup. When it
# kept under this share of the page's visible words, readability-lxml is asked too, and its
# text wins when trafilatura's is under _FALLBACK_RATIO of it. On the development set this
# asks readability on about 10% of pages and changes 4: F1 0.9263 -> 0.9275 (tuned on half
# the sites, 0.9273 on the other half).
_FALLBACK_SHARE = 0.2
_FALLBACK_RATIO = 0.3
_READABILITY_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "dd")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# Consent and cookie banners: small containers named for them. Size-limited because some
# sites put such class names on page wrappers (pruning those cost 3 points of recall).
_BANNER = re.compile("cookie|consent|gdpr")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # as XPath's translate() folds
_NAMES = etree.XPath("//@id | //@class")
_TEXT_LENGTH = etree.XPath("string-length(normalize-space(.))")
_NEVER_BANNERS = frozenset(("html", "body", "main", "article"))
_BANNER_MARK = "data-scraper-banner"
PRUNE_XPATH = f"//*[@{_BANNER_MARK}]"  # what trafilatura prunes: the banners mark_banners found
_HIDDEN = frozenset(("script", "style", "noscript", "template", "svg"))


def _bound_date_languages() -> None:
    """Make htmldate's dateparser (one per process, built on first use) try DATE_LANGUAGES only."""
    parser = get_external_parser()  # htmldate's own, with its settings
    parser.languages = list(DATE_LANGUAGES)


_bound_date_languages()


def declared_charset(data: bytes) -> str | None:
    """Return the charset an HTML page declares in a <meta> tag, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


# trafilatura's parser settings, with one change: each element lxml hands to Python gets its
# class from a C-level lookup (always HtmlElement) instead of lxml.html's Python one, which runs
# for every element touched (about 6,600 times a page here, 7% of a page's time). lxml.html's
# form classes (FormElement, InputElement...) are what that lookup adds; nothing here uses them.
_PARSER = etree.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement,
        comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction,
        entity=lxml_html.HtmlEntity,
    )
)


def _load_html(markup: str) -> lxml_html.HtmlElement | None:
    """Return the tree trafilatura.load_html makes of a page, built by _PARSER; None when it turns the page down.

    Its steps, with its own checks: repair, parse the string (its bytes when lxml refuses a
    string declaring an encoding, or when the string gives no element), and turn down a page
    that never names <html> and parses to fewer than two blocks.
    """
    beginning = markup[:50].lower()
    dubious = is_dubious_html(beginning)
    markup = repair_faulty_html(markup, beginning)
    tree, as_bytes = None, False
    try:
        tree = lxml_html.fromstring(markup, parser=_PARSER)
    except ValueError:  # a string that declares an encoding: lxml takes it as bytes
        tree, as_bytes = _from_bytes(markup), True
    except etree.LxmlError:
        pass
    if (tree is None or len(tree) < 1) and not as_bytes:
        tree = _from_bytes(markup)
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree


def _from_bytes(markup: str) -> lxml_html.HtmlElement | None:
    try:
        return lxml_html.fromstring(markup.encode("utf8", "surrogatepass"), parser=_PARSER)
    except (etree.LxmlError, ValueError):  # what trafilatura logs and turns into None
        return None


def parse_html(markup: str) -> lxml_html.HtmlElement:
    """Return the page's lxml tree; CaptureError when there is no document to parse."""
    try:
        tree = _load_html(markup)
        if tree is None:  # trafilatura turns down a page that never names <html> and parses to one block
            tree = _as_document(markup)
    except (ParserError, ValueError) as exc:
        raise CaptureError(f"unparseable HTML: {exc}") from exc
    if tree is None:
        raise CaptureError("unparseable HTML: no document element")
    return tree


def _as_document(markup: str) -> lxml_html.HtmlElement | None:
    """Return the page parsed as a whole document, a fragment put inside <html><body>; None when it has no text.

    Old and hand-written pages often start straight with a <div> or <table>: a browser shows them
    whole. Only a page with visible text counts, so markup with nothing to read still fails here.
    """
    tree = lxml_html.document_fromstring(markup)
    return tree if visible_words(tree) else None


def page_url(tree: lxml_html.HtmlElement) -> str | None:
    """Return the URL a page gives for itself: <link rel=canonical>, else og:url."""
    for xpath in (
        "//link[translate(@rel,'CANONICAL','canonical')='canonical']/@href",
        "//meta[@property='og:url' or @name='og:url']/@content",
    ):
        for value in tree.xpath(xpath):
            value = str(value).strip()
            if value.startswith(("http://", "https://")):
                return value
    return None


def visible_words(tree: lxml_html.HtmlElement) -> int:
    """Return how many words a reader of the page sees, furniture included.

    The text in <body> outside script, style, noscript, template and svg, and outside comments;
    one walk that skips those subtrees (twice as fast as an XPath asking each text's ancestors).
    """
    pieces: list[str] = []
    for body in _bodies(tree):
        if next(body.iterancestors("body"), None) is not None:
            continue  # a body inside a body: its text is the outer one's
        pieces.append(body.text or "")
        walk = etree.iterwalk(body, events=("start",))
        next(walk)  # the body itself
        for _, element in walk:
            pieces.append(element.tail or "")  # a tail is its parent's text
            if not isinstance(element.tag, str) or element.tag in _HIDDEN:
                walk.skip_subtree()
            else:
                pieces.append(element.text or "")
    return word_count(" ".join(pieces))  # one pass: words never span the joining space


def _bodies(tree: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """Return the document's <body> elements, every one //body finds.

    The tree may be a part of the document, and libxml2 sometimes leaves a second top-level element.
    """
    root = tree.getroottree().getroot()
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    return [body for top in tops if isinstance(top.tag, str) for body in top.iter("body")]


def extract_html(markup: str, *, url: str | None, max_date: str, include_comments: bool = False) -> Extraction:
    """Return the main text and metadata of a page; CaptureError when it has none.

    With `include_comments`, trafilatura keeps the page's reader comments after the article.
    """
    tree = parse_html(markup)
    input_words = visible_words(tree)
    own_url = page_url(tree)  # read before trafilatura prunes the tree
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        favor_precision=EXTRACTOR_OPTIONS["favor_precision"],
        include_comments=include_comments,
        include_tables=EXTRACTOR_OPTIONS["include_tables"],
        deduplicate=EXTRACTOR_OPTIONS["deduplicate"],
        date_extraction_params={**EXTRACTOR_OPTIONS["date_extraction"], "max_date": max_date},
        prune_xpath=PRUNE_XPATH if mark_banners(tree) else None,
    )
    if not isinstance(doc, Document):  # trafilatura gave up on the page: readability may still find text
        doc = Document()
    text = _without_leading_title(str(doc.text or ""), doc.title)
    fallback = None
    if word_count(text) < _FALLBACK_SHARE * input_words:
        other = readability_text(markup)
        if len("".join(text.split())) < _FALLBACK_RATIO * len("".join(other.split())):
            text, fallback = _without_leading_title(other, doc.title), f"readability-lxml {READABILITY_VERSION}"
    if not text.strip():
        raise CaptureError("no main text found in the HTML")
    if include_comments and (doc.comments or "").strip():  # trafilatura keeps them apart from the article
        text = f"{text}\n{doc.comments}"
    return Extraction(
        text=text,
        title=doc.title or None,
        authors=_split_authors(doc.author),
        published=_confirmed_date(markup, doc.date, max_date),
        site_name=_named_site(doc.sitename, doc.url),
        language=doc.language or None,
        tags=tuple(t for t in (doc.tags or ()) if t),
        description=doc.description or None,
        page_url=own_url or doc.url or None,
        input_words=input_words,
        text_from=fallback,
    )


# How trafilatura names a site from its URL when the page names none (its metadata's META_URL).
_HOST_AS_NAME = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")


def _named_site(name: str | None, url: str | None) -> str | None:
    """Return the site's name as the page gives it; None when trafilatura only made it from the URL's host."""
    made_up = _HOST_AS_NAME.match(url or "")
    return None if not name or (made_up is not None and name == made_up[1]) else name


def mark_banners(tree: lxml_html.HtmlElement) -> bool:
    """Mark the page's consent and cookie banners for trafilatura to prune (PRUNE_XPATH); return whether any.

    A banner: an element whose id or class holds "cookie", "consent" or "gdpr" (ASCII letters
    folded), not the page's html, body, main or article, with under 1,200 characters of text
    (whitespace collapsed). The id and class values come from one XPath and are tested here: one
    XPath testing each value in itself took 2.4 times as long (2.9 ms a page, an eighth of
    trafilatura's own extraction). Marked, not removed: trafilatura reads the metadata of the
    whole page first, and prunes after.
    """
    marked = False
    for value in _NAMES(tree):
        if _BANNER.search(value.translate(_ASCII_LOWER)):
            element = value.getparent()
            if element.tag not in _NEVER_BANNERS and _TEXT_LENGTH(element) < 1200:
                element.set(_BANNER_MARK, "")
                marked = True
    return marked


def readability_text(markup: str) -> str:
    """Return the main text readability-lxml finds, one block per line ("" when it finds none)."""
    from readability import Document as ReadabilityDocument

    try:
        summary = ReadabilityDocument(markup).summary(html_partial=True)
        tree = lxml_html.fromstring(summary)
    except Exception:  # readability gives up on some pages (empty, odd markup): then it has no say
        return ""
    # Innermost blocks only, so a list item holding a paragraph is not written twice.
    inner = [
        el for el in tree.iter(*_READABILITY_BLOCKS) if next(el.iterdescendants(*_READABILITY_BLOCKS), None) is None
    ]
    blocks = [" ".join(el.text_content().split()) for el in inner] or [" ".join(tree.text_content().split())]
    return "\n".join(b for b in blocks if b)


def _split_authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(a.strip() for a in value.split(";") if a.strip()))


def _without_leading_title(text: str, title: str | None) -> str:
    """Return `text` without a first line that only repeats the title."""
    first, _, rest = text.lstrip().partition("\n")
    if title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return text


def _confirmed_date(markup: str, found: str | None, max_date: str) -> str | None:
    """Return `found` unless it is a bare year guess (YYYY-01-01) that page markup does not back.

    htmldate's text search turns "© 2025" into 2025-01-01; a wrong date is worse than none.
    """
    if not found or not found.endswith("-01-01"):
        return found or None
    strict = find_date(parse_html(markup), extensive_search=False, original_date=True, max_date=max_date)
    return found if strict == found else None
