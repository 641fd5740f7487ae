"""Catalog scale: insert rate and query latency at 10k, 100k and 1M synthetic documents.

    python -m benchmarks.catalog_scale [--sizes 10000,100000,1000000] [--db sqlite,postgresql]

Each catalog grows by bulk insertion (SQL executemany) of documents, captures and their
similarity index: the FTS index and PostgreSQL's tsvector are maintained as usual; each
document's term counts come from its text, and its signature row and band keys, hashes in
the catalog, are random values of the same size and spread (computing them takes
add_records' own time). An insert into a catalog of N documents then meets indexes of N
documents' rows, as it would in use. Then at each size: the insert rate of 1,000 more
records through Catalog.add_records (the path replay and crawls use, with a run's engine
settings: records carry the text features of their similarity signatures, computed where
extraction runs, and the catalog weighs their key terms and writes), the rate of 1,000
records without them (the catalog computes them: "computing features"; blocks of 500 of
each in turns, each closed by a WAL checkpoint), and the latency of 200 queries of each
kind. PostgreSQL: the server in $SCRAPER_TEST_PG (default 127.0.0.1:5432/test), in a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import insert

from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from archive.catalog.models import CaptureRow, Document, DocumentBand, DocumentSignature, WarcRecordRow
from archive.catalog.similarity import DUPLICATE, STORY, count_terms
from benchmarks.synthetic import Corpus, machine, percentile, word, write_results
from scraper import Record
from scraper.similarity import (
    DUPLICATE_PERMUTATIONS,
    DUPLICATE_ROWS,
    STORY_PERMUTATIONS,
    STORY_ROWS,
    term_hash,
    term_vector,
)

PG_URL = os.environ.get("SCRAPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BULK = 5_000
PROBE_RECORDS, PROBE_BLOCK, PROBE_BATCH = 1_000, 500, 100
QUERIES = 200


def bulk_insert(catalog: Catalog, records: list[Record]) -> None:
    """Insert documents, captures, WARC pointers and the similarity index in a few statements.

    Term counts are the texts' own (documents per term, as add_records counts them). A signature
    row and its band keys (20 of the shingle signature, 16 of the key-term one, as
    archive.catalog.similarity writes them) are random: the catalog stores hashes, and what an
    insert costs depends on how many keys its indexes hold and how they spread, not on their values.
    """
    with catalog.engine.begin() as connection:
        ids = list(
            connection.execute(
                insert(Document).returning(Document.id, sort_by_parameter_order=True),
                [Document.values_from(r) for r in records],
            ).scalars()
        )
        rng = np.random.default_rng(ids[0] if ids else 0)  # a batch's own keys: no two batches share theirs
        captures, pointers = [], []
        for record, document_id in zip(records, ids, strict=True):
            captures.append(CaptureRow.values_from(record, document_id))
            pointers += WarcRecordRow.values_from(record)
        connection.execute(insert(CaptureRow), captures)
        connection.execute(insert(WarcRecordRow), pointers)
        shingles, stories = DUPLICATE_PERMUTATIONS * 4, STORY_PERMUTATIONS * 4
        connection.execute(
            insert(DocumentSignature),
            [{"document_id": d, "shingles": rng.bytes(shingles), "story": rng.bytes(stories)} for d in ids],
        )
        kinds = [DUPLICATE] * (DUPLICATE_PERMUTATIONS // DUPLICATE_ROWS) + [STORY] * (STORY_PERMUTATIONS // STORY_ROWS)
        keys = rng.integers(-(2**63), 2**63 - 1, (len(ids), len(kinds)), dtype=np.int64).tolist()
        bands = [
            {"kind": kind, "band_key": key, "document_id": d}
            for d, row in zip(ids, keys, strict=True)
            for kind, key in zip(kinds, row, strict=True)
        ]
        connection.execute(insert(DocumentBand), bands)
        counts: Counter[int] = Counter()
        for record in records:
            counts.update({term_hash(t) for t in term_vector(record.text)})
        count_terms(connection, counts)


def random_arguments(rng: np.random.Generator) -> tuple[Callable[[], str], Callable[[], str], Callable[[], str]]:
    """Return functions drawing a search word (not among the commonest), a site and a since date of the corpus."""

    def term() -> str:
        return word(int(rng.integers(300, 5_000)))

    def site() -> str:
        return f"site{int(rng.integers(300))}.example"

    def since() -> str:
        return f"{int(rng.integers(2022, 2025))}-{int(rng.integers(1, 13)):02d}-01"

    return term, site, since


def query_kinds(rng: np.random.Generator) -> dict[str, Callable[[Catalog], Any]]:
    """Return the query kinds measured, each a function drawing its own random arguments."""
    term, site, since = random_arguments(rng)
    return {
        "full-text, ranked": lambda c: c.search(term(), limit=20),
        "full-text + site + date": lambda c: c.search(term(), SearchFilters(site=site(), since=since()), limit=20),
        "full-text + language + date, newest": lambda c: c.search(
            term(), SearchFilters(language="de", since=since()), sort="newest", limit=20
        ),
        "site + date, newest (no text)": lambda c: c.search(
            filters=SearchFilters(site=site(), since=since()), sort="newest", limit=20
        ),
    }


def measure(catalog: Catalog, corpus: Corpus, size: int, rng: np.random.Generator) -> dict[str, Any]:
    """Return the insert rate and query latencies of the catalog as it is now."""
    # Records as extraction hands them over, carrying their text features (computed in the
    # workers, timed apart), and records without them, whose features the catalog computes:
    # blocks of the two in turns, so that a machine's changing load weighs on both alike. Each
    # block ends with a checkpoint of what it wrote: SQLite copies its write-ahead log into the
    # database file every 10,000 pages (about 4 commits of 100 records here), and that cost
    # would otherwise fall on whichever block's commit crossed the mark.
    began = time.perf_counter()
    carried = [r.with_text_features() for r in corpus.records(PROBE_RECORDS, start=10_000_000 + size)]
    features_ms = (time.perf_counter() - began) * 1000 / len(carried)
    plain = list(corpus.records(PROBE_RECORDS, start=20_000_000 + size))
    seconds = {"carried": 0.0, "plain": 0.0}
    # Written as a run writes (its engine's settings: Catalog(writing=True)), searched as a search does.
    writer = Catalog(catalog.engine.url.render_as_string(hide_password=False), writing=True)
    try:
        _checkpoint(writer)  # the bulk load's log, untimed
        for block in range(0, PROBE_RECORDS, PROBE_BLOCK):
            for kind, records in (("carried", carried), ("plain", plain)):
                began = time.perf_counter()
                for start in range(block, block + PROBE_BLOCK, PROBE_BATCH):
                    writer.add_records(records[start : start + PROBE_BATCH])
                _checkpoint(writer)
                seconds[kind] += time.perf_counter() - began
    finally:
        writer.close()
    rate, rate_computing = PROBE_RECORDS / seconds["carried"], PROBE_RECORDS / seconds["plain"]
    latencies: dict[str, dict[str, float]] = {}
    for name, run in query_kinds(rng).items():
        run(catalog)  # warm the cache the way a second query would find it
        times = []
        for _ in range(QUERIES):
            began = time.perf_counter()
            run(catalog)
            times.append((time.perf_counter() - began) * 1000)
        latencies[name] = {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2)}
    return {
        "documents": size,
        "insert_records_per_s": round(rate, 1),
        "insert_computing_features_records_per_s": round(rate_computing, 1),
        "text_features_ms_per_record": round(features_ms, 2),
        "queries": latencies,
    }


def _checkpoint(catalog: Catalog) -> None:
    """Copy a SQLite catalog's write-ahead log into its database file and empty it (PostgreSQL: nothing)."""
    if catalog.engine.dialect.name == "sqlite":
        with catalog.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@contextmanager
def catalog_for(kind: str) -> Iterator[Catalog]:
    """Yield a fresh catalog of `kind` (a SQLite file, or a PostgreSQL schema dropped afterwards)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="catalog-scale-") as directory:
            catalog = Catalog(f"sqlite:///{directory}/catalog.sqlite")
            catalog.migrate()
            try:
                yield catalog
            finally:
                catalog.close()
        return
    import psycopg

    schema, plain = f"bench_{uuid.uuid4().hex[:12]}", PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    catalog = Catalog(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        catalog.migrate()
        yield catalog
    finally:
        catalog.close()
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def run(kind: str, sizes: list[int]) -> list[dict[str, Any]]:
    """Grow one catalog through `sizes`, measuring at each; return the rows."""
    corpus, rng, rows, loaded = Corpus(seed=11), np.random.default_rng(5), [], 0
    with catalog_for(kind) as catalog:
        for size in sizes:
            began = time.perf_counter()
            while loaded < size:
                count = min(BULK, size - loaded)
                bulk_insert(catalog, list(corpus.records(count, start=loaded)))
                loaded += count
            if kind == "postgresql":
                with catalog.engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE")
            bulk_seconds = time.perf_counter() - began
            row = {"db": kind, **measure(catalog, corpus, size, rng), "bulk_load_s": round(bulk_seconds, 1)}
            print(row, flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Return the markdown table of the rows."""
    kinds = list(rows[0]["queries"])
    head = ["catalog", "documents", "add_records/s", "computing features/s", *[f"{k} p50 / p95 ms" for k in kinds]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        computing = row.get("insert_computing_features_records_per_s")
        cells = [row["db"], f"{row['documents']:,}", f"{row['insert_records_per_s']:.0f}"]
        cells.append(f"{computing:.0f}" if computing is not None else "")
        cells += [f"{row['queries'][k]['p50_ms']:.1f} / {row['queries'][k]['p95_ms']:.1f}" for k in kinds]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--name", default="catalog-scale", help="results/NAME.json and .md")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = [row for kind in args.db.split(",") for row in run(kind, sizes)]
    markdown = table(rows)
    print(markdown)
    write_results(args.name, {"machine": machine(), "rows": rows}, markdown)


if __name__ == "__main__":
    main()
