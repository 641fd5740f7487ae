"""Cross-capture evidence in the catalog: which lines a site repeats on how many of its pages."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from archive.catalog._sql import chunks, dialect_insert, table_of
from archive.catalog.engine import insert_ignore
from archive.catalog.models import SiteLine, SitePage
from scraper.evidence import MIN_OTHER_URLS, url_key

__all__ = ["count_page", "recurring"]


def count_page(engine: Engine, site: str, url: str, keys: Collection[str]) -> bool:
    """Count the line keys of one page of `site` as cross-capture evidence; False if `url` was counted before.

    The page row and the counts commit together, so a URL is counted once even when
    several writers capture it at the same moment.
    """
    with Session(engine) as session, session.begin():
        page = insert_ignore(
            engine.dialect.name, SitePage, {"site": site, "url_key": url_key(url)}, ["site", "url_key"]
        )
        if session.execute(page.returning(SitePage.site)).first() is None:
            return False
        upsert = dialect_insert(engine.dialect.name, SiteLine).on_conflict_do_update(
            index_elements=["site", "line_key"], set_={"urls": table_of(SiteLine).c.urls + 1}
        )
        rows = [{"site": site, "line_key": k, "urls": 1} for k in sorted(set(keys))]  # sorted: one lock order
        if rows:
            session.connection().execute(upsert, rows)
    return True


def recurring(engine: Engine, site: str, url: str, keys: Collection[str]) -> set[str]:
    """Return the keys among `keys` seen on at least MIN_OTHER_URLS pages of `site` other than `url`."""
    with Session(engine) as session:
        counted = session.get(SitePage, (site, url_key(url))) is not None
        needed = MIN_OTHER_URLS + counted
        found: set[str] = set()
        for chunk in chunks(sorted(set(keys))):
            query = select(SiteLine.line_key).where(
                SiteLine.site == site, SiteLine.line_key.in_(chunk), SiteLine.urls >= needed
            )
            found.update(session.scalars(query))
        return found
