"""The catalog on real SQLite files and a real PostgreSQL schema: migrations, dedup, search, filters."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import column, inspect, table, text

from archive.catalog.captures import AmbiguousId
from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from scraper import Capture, Record, WarcLocation, build_record
from scraper._text import sha256_hex

ARTICLE = "A quiet harbor town voted to restore its lighthouse, which has stood since 1874 on the point. " * 3


def _record(body: str = ARTICLE, url: str = "file:///a.txt", lang_hint: str = "") -> Record:
    capture = Capture(
        payload=(lang_hint + body).encode(), source_kind="file", source_location=url, media_type="text/plain", url=url
    )
    record = build_record(capture)
    loc = WarcLocation("x.warc.gz", 0, 10, "<urn:uuid:1>")
    return record.with_provenance(warc_raw=loc, warc_conversion=loc, warc_metadata=loc)


def test_migrate_is_idempotent_and_creates_named_tables(catalog: Catalog) -> None:
    catalog.migrate()
    names = set(inspect(catalog.engine).get_table_names())
    assert {"crawls", "documents", "captures", "warc_records", "site_pages", "site_lines", "alembic_version"} <= names
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0012"
    indexes = {i["name"] for i in inspect(catalog.engine).get_indexes("captures")}
    assert {"ix_captures_site", "ix_captures_canonical_url", "ix_captures_published"} <= indexes


def test_a_record_keeps_a_bounded_share_of_a_hostile_responses_headers(catalog: Catalog) -> None:
    many = tuple((f"X-Field-{n}", "v") for n in range(100_000))
    record = _record().with_provenance(http_headers=(("ETag", '"v1"'), *many), http_status=200)
    # The first 256 fields (ETag and 255 more), in order.
    assert record.provenance.http_headers == (("ETag", '"v1"'), *many[:255])
    long = tuple((f"X-Long-{n}", "w" * 10_000) for n in range(40))  # 400 KB in 40 fields
    record_b = _record(url="file:///b.txt").with_provenance(http_headers=long)
    # Counting name, value, ": " and CR LF, 26 fields (10,012 or 10,013 bytes each: 260,328) fit in 256 KiB; 27 do not.
    assert record_b.provenance.http_headers == long[:26]
    catalog.add_records([record, record_b])
    stored = catalog.get(record.id)
    assert stored is not None and len(stored.provenance.http_headers) == 256
    with catalog.engine.connect() as conn:
        sizes = conn.execute(text("SELECT http_headers FROM captures")).scalars().all()
    assert all(len(str(value)) < 300_000 for value in sizes)


def test_same_text_is_one_document_with_several_captures(catalog: Catalog) -> None:
    a = _record(url="file:///a.txt")
    b = _record(url="file:///b.txt")
    assert a.text_sha256 == b.text_sha256 and a.id != b.id
    assert catalog.add_records([a, b]) == 2
    assert catalog.add_records([a]) == 0  # already there: nothing duplicated
    assert catalog.count()["documents"] == 1
    assert catalog.count()["captures"] == 2
    assert catalog.known_captures([a.id, "nope"]) == {a.id}


def test_round_trip_keeps_every_field(catalog: Catalog) -> None:
    record = replace(_record(), tags=("harbor", "history"), authors=("José Ñúñez",))
    record = record.with_provenance(http_headers=(("Content-Type", "text/plain"),), http_status=200)
    catalog.add_records([record])
    assert catalog.get(record.id) == record
    assert catalog.get(record.id[:8]) == record
    assert catalog.get("ffffffffff") is None


def test_ambiguous_prefix_is_an_error(catalog: Catalog) -> None:
    first = _record(url="file:///one")
    clash = replace(_record(url="file:///two"), id=first.id[:6] + "0" * 26)
    catalog.add_records([first, clash])
    with pytest.raises(AmbiguousId):
        catalog.get(first.id[:6])
    assert catalog.get(first.id[:7] if first.id[6] != "0" else first.id) == first


def test_full_text_search_ranks_and_snippets(catalog: Catalog) -> None:
    strong = _record("Lighthouse lighthouse keepers restored the lighthouse lens at the lighthouse. " * 3, "file:///1")
    weak = _record(
        "The ferry schedule changed, and one passenger mentioned a lighthouse in passing today. " * 3, "file:///2"
    )
    other = _record("Bakers in the valley sell plum cakes every autumn at the weekly market square. " * 3, "file:///3")
    catalog.add_records([weak, other, strong])
    hits = catalog.search("lighthouse")
    assert [h.record.id for h in hits] == [strong.id, weak.id]
    assert all("«" in (h.snippet or "") for h in hits)
    # User syntax is words, never an error: every hit has the content words (PostgreSQL's language
    # configurations drop "or", "and", "not" as stopwords; SQLite requires them as words).
    odd = catalog.search('"lighthouse" OR ferry AND NOT(')
    assert all("lighthouse" in h.record.text and "ferry" in h.record.text for h in odd)
    assert [h.record.id for h in catalog.search("ferry passenger")] == [weak.id]


def test_filters(catalog: Catalog) -> None:
    en = replace(_record(url="file:///en"), site="news.example.org", published="2025-03-01", authors=("Ada Lovelace",))
    de = replace(
        _record(
            "Der Stadtrat hat am Montag den neuen Bahnhof beschlossen, sagte die Bürgermeisterin. " * 3, "file:///de"
        ),
        site="zeitung.example",
        published="2025-06-01",
    )
    catalog.add_records([en, de])
    assert [h.record.id for h in catalog.search(filters=SearchFilters(language="de"))] == [de.id]
    assert [h.record.id for h in catalog.search(filters=SearchFilters(site="example.org"))] == [
        en.id
    ]  # subdomains of a site match
    assert [h.record.id for h in catalog.search(filters=SearchFilters(site="WWW.news.example.org"))] == [en.id]
    assert (
        catalog.search(filters=SearchFilters(site="ple.org")) == []
        and catalog.search(filters=SearchFilters(site="news.example")) == []
    )  # whole labels only
    assert [h.record.id for h in catalog.search(filters=SearchFilters(author="lovelace"))] == [en.id]
    assert [h.record.id for h in catalog.search(filters=SearchFilters(since="2025-05-01"))] == [de.id]
    assert [h.record.id for h in catalog.search(filters=SearchFilters(until="2025-03-01"))] == [en.id]
    assert [h.record.id for h in catalog.search("bahnhof", SearchFilters(language="en"))] == []


def test_words_with_filters_find_exactly_what_checking_each_capture_finds(catalog: Catalog) -> None:
    """Site and language are index tokens too; the hits must equal a plain check of every capture."""
    import random

    rng = random.Random(7)
    sites = ["example.org", "news.example.org", "example.com", "blog.example.com", "other.net"]
    words = ["harbor", "lantern", "orchard", "quarry", "meadow"]
    texts = {
        "en": "The council met on {w} street and voted on the {v} plan for the coming year in town. ",
        "de": "Der Rat traf sich in der Straße {w} und stimmte über den Plan {v} für das kommende Jahr ab. ",
    }
    records = []
    for i in range(40):
        language = rng.choice(["en", "de"])
        body = texts[language].format(w=rng.choice(words), v=rng.choice(words)) * 3 + f"Item {i}."
        record = replace(_record(body, f"file:///{i}"), site=rng.choice(sites), language=language)
        records.append(record)
    # Syndication: the same text captured on a second site and in a second language.
    records.append(replace(records[0], id="copy" + records[0].id[4:], site="other.net", language="fr"))
    catalog.add_records(records)

    def expected(word: str, site: str | None, language: str | None) -> set[str]:
        return {
            r.id
            for r in records
            if word in r.text.lower().split()
            and (site is None or r.site == site or (r.site or "").endswith("." + site))
            and (language is None or r.language == language)
        }

    checked = 0
    for word in words:
        for site in [None, *sites, "example", "net"]:
            for language in [None, "en", "de", "fr"]:
                found = {
                    h.record.id for h in catalog.search(word, SearchFilters(site=site, language=language), limit=100)
                }
                assert found == expected(word, site, language), (word, site, language)
                checked += bool(found)
    assert checked > 40  # most combinations found something: the comparison is not of empty sets
    copy = records[-1]
    first_word = next(w for w in words if w in copy.text.split())
    assert copy.id in {h.record.id for h in catalog.search(first_word, SearchFilters(site="other.net", language="fr"))}


def test_crawl_rows_record_runs(catalog: Catalog) -> None:
    crawl_id = catalog.start_crawl("replay", {"paths": ["x"]})
    catalog.finish_crawl(crawl_id, "finished", {"records_written": 3})
    with catalog.engine.connect() as conn:
        row = conn.execute(text("SELECT status, counts FROM crawls WHERE id = :id"), {"id": crawl_id}).one()
    assert row.status == "finished"
    assert "records_written" in str(row.counts)


def test_text_digest_matches_text(catalog: Catalog) -> None:
    record = _record()
    catalog.add_records([record])
    stored = catalog.get(record.id)
    assert stored is not None and sha256_hex(stored.text) == stored.text_sha256


def test_a_catalog_made_by_the_first_release_upgrades_and_keeps_its_records(db_url: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    old = Catalog(db_url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("archive.catalog") / "migrations"))
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    record = _record(url="https://news.example.org/harbor")
    from sqlalchemy.orm import Session

    from archive.catalog.models import CaptureRow, Document

    with Session(old.engine) as session, session.begin():  # rows as the first release wrote them
        document = {k: v for k, v in Document.values_from(record).items() if k != "facets"}  # added by 0007
        documents = table("documents", column("id"), *(column(k) for k in document))
        document_id = session.execute(documents.insert().values(**document).returning(documents.c.id)).scalar_one()
        row = CaptureRow.values_from(record, document_id)
        later = {
            "previous_id",
            "site_key",
            "claimed_url",
            "source_record_id",
            "no_text",
        }  # columns later revisions added
        first_release = {key: value for key, value in row.items() if key not in later}
        session.execute(CaptureRow.__table__.insert().values(**first_release))
    assert "site_lines" not in inspect(old.engine).get_table_names()
    old.migrate()
    kept = old.get(record.id)
    assert kept is not None and kept.text == record.text and kept.canonical_url == record.canonical_url
    assert old.history(record.canonical_url)[0][1] is None  # the new column reads as "replaces nothing"
    assert old.count_site_lines("a.example", "https://a.example/1", ["k1", "k2"])
    assert [h.record.id for h in old.search(filters=SearchFilters(site="example.org"))] == [
        record.id
    ]  # site keys filled in
    # ... and facet tokens, so words and filters find it together.
    assert [h.record.id for h in old.search("lighthouse", SearchFilters(site="example.org", language="en"))] == [
        record.id
    ]
    assert old.search("lighthouse", SearchFilters(site="example.com")) == []
    with old.engine.connect() as conn:  # the upgrade gave the old document its signatures
        assert conn.execute(text("SELECT document_id FROM document_signatures")).scalars().all() == [document_id]
    old.close()


def test_site_line_counts_need_two_other_pages(catalog: Catalog) -> None:
    site = "a.example"
    assert catalog.count_site_lines(site, "https://a.example/1", ["menu", "one"])
    assert not catalog.count_site_lines(site, "https://a.example/1", ["menu", "one"])  # same page again
    assert catalog.recurring(site, "https://a.example/3", ["menu", "one"]) == set()
    assert catalog.count_site_lines(site, "https://a.example/2", ["menu", "two"])
    assert catalog.recurring(site, "https://a.example/3", ["menu", "one", "two", "new"]) == {"menu"}
    assert catalog.recurring(site, "https://a.example/2", ["menu"]) == set()  # only one page besides itself
    assert catalog.recurring("b.example", "https://b.example/3", ["menu"]) == set()
    many = [f"k{i}" for i in range(1200)]  # more keys than one statement binds
    for n in range(3):
        catalog.count_site_lines(site, f"https://a.example/many{n}", many)
    assert catalog.recurring(site, "https://a.example/x", many) == set(many)


def test_history_links_each_changed_text_to_the_capture_it_replaced(catalog: Catalog) -> None:
    url = "https://news.example/story"

    def capture(body: str, day: int) -> Record:
        record = _record(body=body, url=url)
        return record.with_provenance(captured_at=f"2026-03-0{day}T00:00:00Z", source_kind="live")

    first = capture(ARTICLE, 1)
    same_text = replace(capture(ARTICLE, 2), id="b" * 32)  # other bytes, same text: not a new version
    changed = capture(ARTICLE + " The council has now published the timetable.", 3)
    assert catalog.add_records([first]) == 1
    assert catalog.add_records([same_text]) == 1
    assert catalog.add_records([changed]) == 1
    history = catalog.history(url)
    assert [r.id for r, _ in history] == [first.id, same_text.id, changed.id]
    assert [previous for _, previous in history] == [None, None, same_text.id]
    latest = catalog.latest_capture(url)
    assert latest is not None and latest.id == changed.id


def test_history_finds_a_page_by_the_url_fetched_its_canonical_or_the_file_replayed(catalog: Catalog) -> None:
    fetched = "https://News.Example/story?utm_source=feed&id=7"  # canonical: https://news.example/story?id=7
    live = _record(url=fetched).with_provenance(source_kind="live", captured_at="2026-03-01T00:00:00Z")
    assert live.canonical_url == "https://news.example/story?id=7"
    saved = _record(body=ARTICLE + " Saved later.", url="urn:file:inbox/story.html").with_provenance(
        source_location="inbox/story.html"
    )
    other = _record(body=ARTICLE + " Another page.", url="https://news.example/other")
    assert catalog.add_records([live, saved, other]) == 3
    for given in (fetched, "https://news.example/story?id=7", "HTTPS://NEWS.EXAMPLE/story?id=7&utm_medium=x"):
        assert [r.id for r, _ in catalog.history(given)] == [live.id], given
    for given in ("inbox/story.html", "urn:file:inbox/story.html"):
        assert [r.id for r, _ in catalog.history(given)] == [saved.id], given
    assert catalog.history("https://news.example/story") == []  # another page: the query is part of its address


def _version(body: str, day: int, url: str = "https://news.example/story") -> Record:
    """A live capture of `url` on March `day` whose page text is `body`."""
    record = _record(body=body, url=url)
    return record.with_provenance(captured_at=f"2026-03-0{day}T00:00:00Z", source_kind="live")


def test_a_capture_archived_late_takes_its_place_in_the_urls_history(catalog: Catalog) -> None:
    url = "https://news.example/story"
    first, second = _version(ARTICLE, 1), _version(ARTICLE + " Repairs begin in May.", 2)
    third = _version(ARTICLE + " Repairs begin in June.", 3)
    assert catalog.add_records([third]) == 1
    assert catalog.add_records([first]) == 1  # an older WARC file replayed after the newer crawl
    assert [previous for _, previous in catalog.history(url)] == [None, first.id]
    assert catalog.add_records([second]) == 1  # lands between them: the third now replaces it, not the first
    assert [previous for _, previous in catalog.history(url)] == [None, first.id, second.id]


def test_a_new_extraction_links_the_urls_versions_again(catalog: Catalog) -> None:
    url = "https://news.example/story"
    updated = ARTICLE + " The council has now published the timetable."
    first, second = _version(ARTICLE, 1), _version(updated, 2)
    third = replace(_version(updated, 3), id="c" * 32)  # the same bytes again: an id of its own
    assert catalog.add_records([first, second, third]) == 3
    assert [previous for _, previous in catalog.history(url)] == [None, first.id, None]

    # Re-extracted, the second capture's text is the first's (say a footer line had made the
    # difference): it is no new version any more, and the third, whose text differs from it now, is.
    stored = catalog.get(second.id)
    assert stored is not None
    again = stored.with_extraction(_version(ARTICLE, 2), reextraction={"at": "2026-03-04T00:00:00Z"})
    loc = WarcLocation("y.warc.gz", 0, 10, "<urn:uuid:2>")
    assert catalog.replace_extractions([again.with_provenance(warc_conversion=loc, warc_metadata=loc)]) == 1
    assert [previous for _, previous in catalog.history(url)] == [None, None, second.id]
    assert catalog.count()["documents"] == 2  # the texts are still ARTICLE and `updated`


def test_sorting_paging_crawl_capture_dates_and_changed_urls(catalog: Catalog) -> None:
    crawl = catalog.start_crawl("crawl", {})
    records = []
    for day in range(1, 6):  # five stories captured on five days, published in another order
        record = _record(body=f"Story number {day} about the harbour. " * 5, url=f"https://news.example/{day}")
        record = replace(record, published=f"2026-02-0{6 - day}")
        record = record.with_provenance(captured_at=f"2026-03-0{day}T00:00:00Z", crawl_id=crawl if day <= 2 else None)
        records.append(record)
    changed = records[0].with_provenance(captured_at="2026-03-09T00:00:00Z", crawl_id=None)
    changed = replace(changed, id="c" * 32, text=records[0].text + " Updated.", text_sha256="d" * 64)
    catalog.add_records([*records, changed])
    ids = [r.id for r in records]

    assert [h.record.id for h in catalog.search(sort="oldest", limit=3)] == ids[:3]
    assert [h.record.id for h in catalog.search(sort="oldest", limit=3, offset=3)] == [*ids[3:], changed.id]
    assert [h.record.id for h in catalog.search(sort="newest")] == [changed.id, *reversed(ids)]
    # 2026-02-05 first; the two captures of that story by newest capture
    assert [h.record.id for h in catalog.search(sort="published")][:3] == [changed.id, ids[0], ids[1]]
    assert {h.record.id for h in catalog.search(filters=SearchFilters(crawl=crawl[:8]))} == set(ids[:2])
    assert [
        h.record.id
        for h in catalog.search(filters=SearchFilters(captured_since="2026-03-04", captured_until="2026-03-05"))
    ] == [
        ids[4],
        ids[3],
    ]
    assert {h.record.id for h in catalog.search(versions=True)} == {ids[0], changed.id}  # only the URL that changed
    assert [h.record.id for h in catalog.search("harbour", versions=True, sort="oldest")] == [ids[0], changed.id]
    with pytest.raises(ValueError, match="sort must be one of"):
        catalog.search(sort="random")


def test_search_stems_words_in_each_documents_language_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL only: SQLite's FTS5 tokenizer does not stem."""
    catalog = Catalog(postgres_url)
    catalog.migrate()
    en = replace(
        _record("The villages along the coast were flooded twice this winter, officials said. " * 3, "file:///en"),
        language="en",
    )
    de = replace(
        _record(
            "Die neuen Bahnhöfe der Region werden im kommenden Jahr eröffnet, sagte der Sprecher. " * 3, "file:///de"
        ),
        language="de",
    )
    catalog.add_records([en, de])
    assert [h.record.id for h in catalog.search("village")] == [en.id]  # english stemming: villages -> villag
    assert [h.record.id for h in catalog.search("Bahnhof")] == [de.id]  # german stemming: Bahnhöfe -> bahnhof
    [hit] = catalog.search("flood coast")
    assert hit.record.id == en.id and "«" in (hit.snippet or "")
    assert catalog.search("xylophonequartz") == []
    catalog.close()


def test_documents_are_indexed_once_and_an_upgrade_indexes_old_ones(catalog: Catalog) -> None:
    from archive.catalog.similarity import index_missing
    from scraper.similarity import term_hash

    first = _record()
    same_text = _record(url="file:///copy.txt", lang_hint="\n")  # other bytes, same text: one document
    other = _record(body="The lighthouse keeper retired after forty years on the point. " * 3, url="file:///b.txt")
    catalog.add_records([first, same_text, other])
    assert first.text_sha256 == same_text.text_sha256 and first.payload_sha256 != same_text.payload_sha256

    def counts() -> tuple[int, int, int | None]:
        with catalog.engine.connect() as conn:
            signed = conn.execute(text("SELECT count(*) FROM document_signatures")).scalar_one()
            bands = conn.execute(text("SELECT count(DISTINCT document_id) FROM document_bands")).scalar_one()
            shared = conn.execute(
                text("SELECT documents FROM term_documents WHERE term = :t"), {"t": term_hash("lighthouse")}
            ).scalar()
        return signed, bands, shared

    assert counts() == (2, 2, 2)  # "lighthouse" is in both documents; the copy is not counted again
    with catalog.engine.begin() as conn:  # a catalog from before the signatures existed
        for table in ("document_bands", "document_signatures", "term_documents"):
            conn.execute(text(f"DELETE FROM {table}"))
    with catalog.engine.begin() as conn:
        assert index_missing(conn) == 2
        assert index_missing(conn) == 0
    assert counts() == (2, 2, 2)


def test_many_rows_keep_their_typed_values_on_either_insert_path(catalog: Catalog) -> None:
    """insert_many without RETURNING: SQLite's driver path binds JSON and dates as SQLAlchemy does."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from archive.catalog._sql import insert_many, table_of
    from archive.catalog.models import Crawl, TermDocuments

    started = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC)
    rows = [
        {"id": f"run-{n}", "kind": "replay", "started_at": started, "args": {"jobs": n, "paths": ["a b"]}}
        | {"software": "scraper test", "counts": {}, "status": "done"}
        for n in range(3)
    ]
    counts = [{"term": -(2**63) + n, "documents": n + 1} for n in range(3)]  # 64-bit keys, the lowest too
    with catalog.engine.begin() as connection:
        insert_many(connection, table_of(Crawl).insert(), rows)
        insert_many(connection, table_of(TermDocuments).insert(), counts)
    with catalog.engine.connect() as connection:
        read = connection.execute(select(Crawl.id, Crawl.args, Crawl.started_at).order_by(Crawl.id)).all()
        terms = connection.execute(select(TermDocuments.term, TermDocuments.documents).order_by(TermDocuments.term))
        assert [tuple(t) for t in terms] == [(-(2**63), 1), (-(2**63) + 1, 2), (-(2**63) + 2, 3)]
    assert [(r.id, r.args) for r in read] == [(f"run-{n}", {"jobs": n, "paths": ["a b"]}) for n in range(3)]
    assert all(r.started_at.replace(tzinfo=UTC) == started for r in read)  # SQLite gives it back naive, in UTC


def test_a_run_that_archives_keeps_a_small_page_cache_and_searches_a_large_one(sqlite_url: str) -> None:
    """A replay's memory must not grow with the pages it writes; searches keep their 64 MiB cache."""

    def settings(catalog: Catalog) -> tuple[int, int]:
        with catalog.engine.connect() as connection:
            cache = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
            mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar_one()
        return int(cache), int(mapped)

    search, writer = Catalog(sqlite_url), Catalog(sqlite_url, writing=True)
    try:
        search.migrate()
        assert settings(search) == (-65536, 1024**3)
        assert settings(writer) == (-8192, 0)
    finally:
        search.close()
        writer.close()
