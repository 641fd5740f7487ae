"""What an extractor found in one capture, before normalization."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Extraction:
    """The main text and metadata an extractor found; the same shape for HTML and text."""

    text: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    site_name: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    page_url: str | None = None
    input_words: int = 0
    line_keys: tuple[str, ...] = ()
    text_from: str | None = None  # another extractor whose text was used, when not the main one
    recurring_dropped: int = 0
