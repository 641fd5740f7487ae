"""`scraper similar` and `scraper stories`: near-duplicates and same-story groups from the catalog."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from archive.cli._common import MAX_LIMIT, add_filters, bounded, command, filters_of, format_option, open_catalog, shown
from archive.errors import NotFound

if TYPE_CHECKING:
    from archive.catalog.similarity import Similar, Story

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `similar` and `stories` on the CLI's subcommand parser."""
    similar = command(
        sub, "similar", "list captures of the same text, near-duplicates and same-story documents", _similar
    )
    similar.add_argument("id", help="record id, or a unique prefix of 6+ hex digits")
    format_option(similar, "table", "json")

    stories = command(sub, "stories", "group documents that tell one story (across sites)", _stories)
    add_filters(stories)
    stories.add_argument("--min-size", type=bounded(1, MAX_LIMIT), default=2, help="smallest group to list (documents)")
    stories.add_argument("--limit", type=bounded(1, MAX_LIMIT), default=50, help="groups to list (largest first)")
    format_option(stories, "table", "json")


def _similar(args: argparse.Namespace) -> int:
    from archive.catalog.captures import missing

    with open_catalog(args) as catalog:
        found = catalog.similar(args.id)
    if found is None:
        raise NotFound(missing(args.id))
    if args.format == "json":
        print(json.dumps([_similar_dict(s) for s in found], ensure_ascii=False, indent=2))
    else:
        _print_similar(found)
    return 0


def _stories(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        found = catalog.stories(filters_of(args, catalog), min_size=max(2, args.min_size), limit=args.limit)
    if args.format == "json":
        print(json.dumps([_story_dict(s) for s in found], ensure_ascii=False, indent=2))
    else:
        _print_stories(found)
    return 0


def _similar_dict(similar: Similar) -> dict[str, Any]:
    return {"relation": similar.relation, "score": round(similar.score, 4), **asdict(similar.document)}


def _story_dict(story: Story) -> dict[str, Any]:
    return {
        "size": len(story.documents),
        "sites": story.sites,
        "first": story.first,
        "last": story.last,
        "documents": [asdict(d) for d in story.documents],
    }


def _print_similar(found: list[Similar]) -> None:
    for item in found:
        doc = item.document
        print(f"{item.relation:15} {item.score:5.2f}  {doc.record_id}  {doc.day}  {', '.join(doc.sites) or '-'}")
        print(f"{'':23}{shown(doc.title or doc.url)}")
    print(f"{len(found)} related")


def _print_stories(found: list[Story]) -> None:
    for number, story in enumerate(found, 1):
        span = story.first if story.first == story.last else f"{story.first} .. {story.last}"
        print(f"story {number}: {_count(len(story.documents), 'document')}, {_count(len(story.sites), 'site')}, {span}")
        sites = [shown(", ".join(doc.sites) or "-") for doc in story.documents]
        width = max(map(len, sites))  # the titles start in one column, however long a story's site names
        for doc, site in zip(story.documents, sites, strict=True):
            print(f"  {doc.record_id}  {doc.day}  {site:{width}}  {shown(doc.title or doc.url)}")
    print(f"{len(found)} stories")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
