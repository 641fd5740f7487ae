"""Catalog scale: insert rate and query latency at 10k, 100k and 1M synthetic documents.

    python -m benchmarks.catalog_scale [--sizes 10000,100000,1000000] [--db sqlite,postgresql]

Each catalog grows by bulk insertion of documents and captures (SQL executemany: the FTS
index and PostgreSQL's tsvector are maintained as usual, but not the similarity tables),
then at each size: the insert rate of 1,000 more records through Catalog.add_records (the
path replay and crawls use, with a run's engine settings: records carry the text features of
their similarity signatures, computed where extraction runs, and the catalog weighs their key
terms and writes), the rate of 1,000 records without them (the catalog computes them:
"computing features"; batches of the two in turns), and the latency of 200 queries of each
kind. PostgreSQL: the server in $SCRAPER_TEST_PG (default 127.0.0.1:5432/test), in a schema of
its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import insert

from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from archive.catalog.models import CaptureRow, Document, WarcRecordRow
from benchmarks.synthetic import Corpus, machine, percentile, word, write_results
from scraper import Record

PG_URL = os.environ.get("SCRAPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BULK = 5_000
PROBE_RECORDS, PROBE_BATCH = 1_000, 100
QUERIES = 200


def bulk_insert(catalog: Catalog, records: list[Record]) -> None:
    """Insert documents, captures and WARC pointers in a few statements (no similarity index)."""
    with catalog.engine.begin() as connection:
        ids = connection.execute(
            insert(Document).returning(Document.id, sort_by_parameter_order=True),
            [Document.values_from(r) for r in records],
        ).scalars()
        captures, pointers = [], []
        for record, document_id in zip(records, ids, strict=True):
            captures.append(CaptureRow.values_from(record, document_id))
            pointers += WarcRecordRow.values_from(record)
        connection.execute(insert(CaptureRow), captures)
        connection.execute(insert(WarcRecordRow), pointers)


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
    # batches of the two in turns, so that a machine's changing load weighs on both alike.
    began = time.perf_counter()
    carried = [r.with_text_features() for r in corpus.records(PROBE_RECORDS, start=10_000_000 + size)]
    features_ms = (time.perf_counter() - began) * 1000 / len(carried)
    plain = list(corpus.records(PROBE_RECORDS, start=20_000_000 + size))
    seconds = {"carried": 0.0, "plain": 0.0}
    # Written as a run writes (its engine's settings: Catalog(writing=True)), searched as a search does.
    writer = Catalog(catalog.engine.url.render_as_string(hide_password=False), writing=True)
    try:
        for start in range(0, PROBE_RECORDS, PROBE_BATCH):
            for kind, records in (("carried", carried), ("plain", plain)):
                began = time.perf_counter()
                writer.add_records(records[start : start + PROBE_BATCH])
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
