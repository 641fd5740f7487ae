"""Queries are bounded, user text is taken literally (never a LIKE pattern), authors match in any Unicode case."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from archive.catalog.engine import QueryTimeout, statement_timeout
from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from archive.catalog.search import query_words
from archive.errors import UsageError
from scraper import Capture, Record, WarcLocation, build_record
from tests.conftest import Cli

HARBOR = "A quiet harbor town voted to restore its lighthouse, which has stood since 1874 on the point. " * 3
FESTIVAL = "The harbor festival returns again this summer, with boats and music by the lighthouse pier. " * 3
BAKERY = "Bakers in the valley sell plum cakes every autumn at the weekly market square downtown. " * 3


def _record(body: str, url: str, authors: tuple[str, ...] = (), crawl_id: str | None = None) -> Record:
    capture = Capture(payload=body.encode(), source_kind="file", source_location=url, media_type="text/plain", url=url)
    loc = WarcLocation("x.warc.gz", 0, 10, "<urn:uuid:1>")
    record = build_record(capture, crawl_id=crawl_id).with_provenance(warc_raw=loc, warc_conversion=loc)
    return replace(record, authors=authors)


def _ids(catalog: Catalog, query: str | None = None, **filters: str) -> set[str]:
    return {hit.record.id for hit in catalog.search(query, SearchFilters(**filters))}


@pytest.fixture
def three(catalog: Catalog) -> tuple[Record, Record, Record]:
    """An article by Hans Übelacker, one by "Mary_Sue %" (wildcards in her name), one with no author."""
    ubel = _record(HARBOR, "file:///ubel", ("Hans Übelacker",))
    wild = _record(BAKERY, "file:///wild", ("Mary_Sue %",))
    nobody = _record(FESTIVAL, "file:///nobody")
    catalog.add_records([ubel, wild, nobody])
    return ubel, wild, nobody


def test_author_wildcards_and_json_text_match_only_literal_names(
    catalog: Catalog, three: tuple[Record, Record, Record]
) -> None:
    _ubel, wild, _nobody = three
    assert _ids(catalog, author="_") == {wild.id}  # her name holds a literal "_"; no one else's does
    assert _ids(catalog, author="%") == {wild.id}
    assert _ids(catalog, author="y_s") == {wild.id}
    assert _ids(catalog, author="[]") == set()  # the JSON text of an empty list is not an author
    assert _ids(catalog, author='"') == set()
    assert _ids(catalog, author="a%s") == set()  # "%" is not "any characters"


def test_authors_match_case_insensitively_in_unicode(catalog: Catalog, three: tuple[Record, Record, Record]) -> None:
    ubel, _wild, _nobody = three
    assert _ids(catalog, author="Übelacker") == {ubel.id}
    assert _ids(catalog, author="übelacker") == {ubel.id}
    assert _ids(catalog, author="ÜBELACKER") == {ubel.id}
    assert _ids(catalog, author="hans ü") == {ubel.id}
    assert _ids(catalog, author="ubelacker") == set()  # case, not accents


def test_crawl_and_record_id_prefixes_are_literal(catalog: Catalog) -> None:
    crawl = catalog.start_crawl("replay", {})
    inside = _record(HARBOR, "file:///in", crawl_id=crawl)
    outside = _record(BAKERY, "file:///out", crawl_id="crawl_1")
    catalog.ensure_crawls(["crawl_1"])  # a run id read back from a WARC file need not be a UUID
    catalog.add_records([inside, outside])
    assert _ids(catalog, crawl=crawl[:8]) == {inside.id}
    assert _ids(catalog, crawl="_") == set()
    assert _ids(catalog, crawl="%") == set()
    assert _ids(catalog, crawl="crawl_") == {outside.id}  # a literal "_" still matches itself
    assert _ids(catalog, crawl="crawl%") == set()
    run = catalog.find_crawl(crawl[:8])
    assert run is not None and run.id == crawl
    assert catalog.find_crawl("_") is None and catalog.find_crawl("%") is None
    assert catalog.resumable("%") is None
    assert catalog.get(inside.id[:6]) == inside
    for pattern in ("______", "%%%%%%", inside.id[:5] + "_", "[]abcd"):
        with pytest.raises(UsageError, match="is not hexadecimal"):
            catalog.get(pattern)


@pytest.mark.parametrize(
    ("field", "option"), [("author", "--author"), ("site", "--site"), ("crawl", "--crawl"), ("language", "--lang")]
)
def test_a_huge_filter_is_a_usage_error(catalog: Catalog, field: str, option: str) -> None:
    with pytest.raises(UsageError, match=f"^{option} is 50,000 characters long: at most 256 are allowed$"):
        catalog.search(None, SearchFilters(**{field: "a" * 50_000}))
    with pytest.raises(UsageError, match=f"^{option} is 50,000 characters long"):
        catalog.stories(SearchFilters(**{field: "a" * 50_000}))


def test_huge_ids_are_usage_errors(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match="record id is 50,000 characters long"):
        catalog.get("a" * 50_000)
    with pytest.raises(UsageError, match="run id is 50,000 characters long"):
        catalog.find_crawl("a" * 50_000)


def test_repeated_words_collapse_before_the_database(catalog: Catalog, three: tuple[Record, Record, Record]) -> None:
    ubel, _wild, nobody = three
    assert query_words("Harbor harbor HARBOR again Harbor") == "Harbor again"
    assert _ids(catalog, " ".join(["lighthouse"] * 90)) == {ubel.id, nobody.id}  # 989 characters
    assert _ids(catalog, " ".join(["Harbor", "harbor", "HARBOR"] * 30 + ["festival"])) == {nobody.id}


def test_too_long_or_too_many_words_is_a_usage_error(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match="the query is 219,999 characters long: at most 1,000"):
        catalog.search(" ".join(["lighthouse"] * 20_000))
    with pytest.raises(UsageError, match="the query is 3,299 characters long"):
        catalog.search(" ".join(["lighthouse"] * 300))
    many = " ".join(f"w{n}" for n in range(65))  # 65 different words, 374 characters
    with pytest.raises(UsageError, match="the query has 65 different words: at most 64"):
        catalog.search(many)
    assert catalog.search(" ".join(f"w{n}" for n in range(64))) == []  # 64 are allowed (none matches)


def test_the_cli_says_what_is_wrong_in_one_line(cli_any_db: Cli) -> None:
    cli = cli_any_db
    for args in (
        ("query", " ".join(["harbor"] * 20_000)),
        ("query", "--author", "x" * 50_000),
        ("show", "--", "______"),
        ("show", "a" * 50_000),
    ):
        result = cli(*args)
        assert result.code == 2, (args[:2], result.err)
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
        assert "Traceback" not in result.err


SLOW = {
    "postgresql": "SELECT pg_sleep(600)",
    # Counts to ten billion: hours, unless interrupted.
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000) SELECT max(i) FROM n",
}


def test_a_statement_over_its_timeout_is_cancelled(db_url: str) -> None:
    catalog = Catalog(db_url)
    try:
        cancelled = pytest.raises(QueryTimeout, match=r"^the query ran over 0\.2 s and was cancelled")
        with Session(catalog.engine) as session, cancelled, statement_timeout(session, 0.2):
            session.execute(text(SLOW[catalog.dialect]))
        with Session(catalog.engine) as session:  # the pooled connection is unbounded again
            assert session.execute(text("SELECT 1 + 1")).scalar_one() == 2
            if catalog.dialect == "postgresql":
                assert session.execute(text("SHOW statement_timeout")).scalar_one() == "0"
        with Session(catalog.engine) as session, statement_timeout(session, 0.2):
            if catalog.dialect == "postgresql":
                assert session.execute(text("SHOW statement_timeout")).scalar_one() == "200ms"
    finally:
        catalog.close()


@pytest.mark.postgres
def test_a_search_runs_under_the_configured_timeout(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(postgres_url)
    catalog.migrate()
    timeouts: list[object] = []

    def note(_conn: object, _cursor: object, statement: str, parameters: object, *_args: object) -> None:
        if "set_config" in statement:
            timeouts.append(parameters)

    event.listen(catalog.engine, "before_cursor_execute", note)
    try:
        monkeypatch.setenv("SCRAPER_QUERY_TIMEOUT", "2.5")
        assert catalog.search("lighthouse") == []
        # statement_timeout 2500 ms, the check that the client is still there every second, and the
        # planner kept to the text index (all for the search's own transaction: is_local True)
        assert [sorted(map(str, p.values())) for p in timeouts if isinstance(p, dict)] == [
            ["2500", "True", "statement_timeout"],
            ["1000", "True", "client_connection_check_interval"],
            ["True", "enable_seqscan", "off"],
        ]
        monkeypatch.setenv("SCRAPER_QUERY_TIMEOUT", "soon")
        with pytest.raises(UsageError, match="SCRAPER_QUERY_TIMEOUT='soon' is not a number of seconds"):
            catalog.search("lighthouse")
    finally:
        catalog.close()


@pytest.mark.postgres
def test_stories_run_under_the_configured_timeout(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(postgres_url)
    catalog.migrate()
    timeouts: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, parameters: object, *_args: object) -> None:
        if "set_config" in statement and isinstance(parameters, dict):
            timeouts.extend(str(v) for v in parameters.values())

    event.listen(catalog.engine, "before_cursor_execute", note)
    try:
        monkeypatch.setenv("SCRAPER_QUERY_TIMEOUT", "4")
        assert catalog.stories(SearchFilters()) == []
        assert "4000" in timeouts and "statement_timeout" in timeouts
    finally:
        catalog.close()
