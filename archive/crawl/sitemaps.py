"""Sitemaps read as a stream, and sitemap indexes remembered so their children are asked for a few at a time.

`read_sitemap` runs off the reactor thread (SiteSpider hands it to a thread): it gunzips within
a size cap and walks the XML with lxml's iterparse, keeping only the `<loc>` of each entry, so a
sitemap of 50,000 URLs costs its URLs, not a tree. `IndexCache` keeps the children of the last
few indexes read, so that each child sitemap, once read, can ask for the next one.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass

from lxml import etree
from scrapy.utils.gz import gunzip

__all__ = ["INDEX", "URLSET", "IndexCache", "SitemapError", "SitemapRead", "read_sitemap"]

INDEX, URLSET = "sitemapindex", "urlset"
_ENTRY = {INDEX: "sitemap", URLSET: "url"}


class SitemapError(ValueError):
    """The body is not a sitemap this crawl can read: bad gzip, too large, malformed XML, another root."""


@dataclass(frozen=True, slots=True)
class SitemapRead:
    """What a sitemap lists: its kind (INDEX or URLSET) and the `<loc>` of each entry, in document order."""

    kind: str
    locs: list[str]


def read_sitemap(body: bytes, max_bytes: int) -> SitemapRead:
    """Return the kind and entry locations of a sitemap or index (plain or gzipped); SitemapError if unreadable."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_bytes)
        except Exception as exc:  # a bad or oversized gzip
            raise SitemapError(f"unreadable gzipped sitemap: {exc}") from exc
    kind = ""
    locs: list[str] = []
    events = etree.iterparse(
        io.BytesIO(body), events=("start", "end"), recover=True, resolve_entities=False, no_network=True
    )
    try:
        for event, element in events:
            name = etree.QName(element).localname if isinstance(element.tag, str) else ""
            if event == "start":
                kind = kind or name
                continue
            if name == "loc" and kind in _ENTRY and _parent_name(element) == _ENTRY[kind]:
                loc = (element.text or "").strip()
                if loc:
                    locs.append(loc)
            elif name == _ENTRY.get(kind):
                _forget(element)
    except etree.LxmlError as exc:  # even recovering, lxml gives up on some bodies
        raise SitemapError(f"unreadable sitemap: {exc}") from exc
    if kind not in _ENTRY:
        raise SitemapError(f"unreadable sitemap: its root is <{kind}>" if kind else "unreadable sitemap: no XML")
    return SitemapRead(kind, locs)


def _parent_name(element: etree._Element) -> str:
    parent = element.getparent()
    return etree.QName(parent).localname if parent is not None and isinstance(parent.tag, str) else ""


def _forget(element: etree._Element) -> None:
    """Drop an entry already read, and the siblings before it, so the tree never holds more than one."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


class IndexCache:
    """The child sitemaps of the last `size` sitemap indexes read, by the index's URL."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._children: OrderedDict[str, list[str]] = OrderedDict()

    def put(self, index_url: str, children: list[str]) -> None:
        self._children[index_url] = children
        self._children.move_to_end(index_url)
        while len(self._children) > self.size:
            self._children.popitem(last=False)

    def get(self, index_url: str) -> list[str] | None:
        """Return the index's children, or None when it was never read here or has been forgotten."""
        children = self._children.get(index_url)
        if children is not None:
            self._children.move_to_end(index_url)
        return children
