"""`scraper serve`: server time of the search page (and its JSON) on a 100k-document catalog.

    python -m benchmarks.serve [--documents 100000] [--db sqlite,postgresql] [--queries 200]

The catalog is synthesized as benchmarks.catalog_scale grows one (bulk insertion of
Zipf-distributed pseudo-word documents over 300 sites), then opened read-only as `serve`
opens it. Each request goes through the whole ASGI application in this process (routing,
the token-less middleware, the ranked search, its total, Jinja2 rendering): server time, no
network. In the same run and on the same random queries, the bare `Catalog.search` call the
page makes is timed too, so the page's own cost is the difference. The aim: search page p95
under 100 ms. Also timed: importing the app and building it (what `serve` pays before it listens).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from benchmarks.catalog_scale import BULK, bulk_insert, catalog_for, random_arguments
from benchmarks.synthetic import Corpus, machine, percentile, word, write_results

TARGET_P95_MS = 100.0


def query_kinds(rng: np.random.Generator) -> dict[str, Callable[[], dict[str, str]]]:
    """Return the search-page queries measured, each drawing its own random arguments (as query strings)."""
    term, site, since = random_arguments(rng)
    return {
        "one word": lambda: {"q": term()},
        "common word (10,000+ matches)": lambda: {"q": word(int(rng.integers(0, 20)))},
        "two words + site + date": lambda: {"q": f"{term()} {term()}", "site": site(), "since": since()},
        "word, newest, page 5": lambda: {"q": term(), "sort": "newest", "page": "5"},
        "no words: site, newest": lambda: {"site": site(), "sort": "newest"},
    }


def _bare(catalog: Any, params: dict[str, str]) -> None:
    from archive.catalog.filters import SearchFilters

    page = int(params.get("page", "1"))
    filters = SearchFilters(site=params.get("site"), since=params.get("since"))
    catalog.search(params.get("q"), filters, sort=params.get("sort", "relevance"), limit=20, offset=(page - 1) * 20)


def measure(url: str, queries: int, rng: np.random.Generator) -> dict[str, Any]:
    """Return p50/p95 server times of the search page, its JSON and the bare search, per query kind."""
    from starlette.testclient import TestClient

    from archive.serve._catalog import open_read_only
    from archive.serve.app import ServeConfig, create_app

    catalog = open_read_only(url)
    found: dict[str, Any] = {}
    try:
        app = create_app(ServeConfig(data=Path("."), catalog=catalog))
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            for name, draw in query_kinds(rng).items():
                times: dict[str, list[float]] = {"page": [], "json": [], "bare search": []}
                for n in range(queries + 1):
                    params = draw()
                    for kind in times:
                        began = time.perf_counter()
                        if kind == "bare search":
                            _bare(catalog, params)
                        else:
                            _ok(client.get(("/?" if kind == "page" else "/api/search?") + urlencode(params)))
                        if n:  # the first round warms the caches
                            times[kind].append((time.perf_counter() - began) * 1000)
                found[name] = {
                    kind: {"p50_ms": round(percentile(t, 0.5), 2), "p95_ms": round(percentile(t, 0.95), 2)}
                    for kind, t in times.items()
                }
    finally:
        catalog.close()
    return found


def _ok(answer: Any) -> None:
    if answer.status_code != 200:
        raise SystemExit(f"the search page answered {answer.status_code}: {answer.text[:300]}")


def startup_ms() -> float:
    """Return the time a fresh interpreter takes to import the app and build it (median of 5)."""
    code = (
        "import time; t=time.perf_counter(); from archive.serve.app import create_app, ServeConfig; "
        "from archive.serve import serve; print((time.perf_counter()-t)*1000)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    return round(sorted(runs)[2], 1)


def run(kind: str, documents: int, queries: int) -> dict[str, Any]:
    corpus, loaded = Corpus(seed=11), 0
    with catalog_for(kind) as catalog:
        while loaded < documents:
            count = min(BULK, documents - loaded)
            bulk_insert(catalog, list(corpus.records(count, start=loaded)))
            loaded += count
        if kind == "postgresql":
            # What autovacuum does after a bulk load (insert-driven, PostgreSQL 13+): statistics for the
            # planner and the visibility map for index-only scans.
            with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        rows = measure(catalog.url, queries, np.random.default_rng(5))
    return {"db": kind, "documents": documents, "queries": rows}


def table(results: list[dict[str, Any]]) -> str:
    """Return the markdown table: per catalog and query kind, the page, its JSON and the bare search."""
    lines = [
        "| catalog | documents | query | search page p50 / p95 ms | JSON p50 / p95 ms | bare search p50 / p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        for name, kinds in result["queries"].items():
            cells = [f"{kinds[k]['p50_ms']:.1f} / {kinds[k]['p95_ms']:.1f}" for k in ("page", "json", "bare search")]
            lines.append(f"| {result['db']} | {result['documents']:,} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--name", default="serve", help="results/NAME.json and .md")
    parser.add_argument("--catalog", help="measure this existing catalog (URL) instead of building one")
    args = parser.parse_args()
    if args.catalog:
        rows = measure(args.catalog, args.queries, np.random.default_rng(5))
        results = [{"db": args.catalog.split(":")[0].split("+")[0], "documents": args.documents, "queries": rows}]
    else:
        results = [run(kind, args.documents, args.queries) for kind in args.db.split(",")]
    markdown = table(results)
    worst = max(k["page"]["p95_ms"] for r in results for k in r["queries"].values())
    start = startup_ms()
    markdown += (
        f"\n\nSlowest search page p95: {worst:.1f} ms (aim: under {TARGET_P95_MS:.0f} ms: "
        f"{'met' if worst < TARGET_P95_MS else 'NOT met'}). Importing and building the app: {start:.0f} ms."
    )
    print(markdown)
    write_results(args.name, {"machine": machine(), "startup_ms": start, "results": results}, markdown)


if __name__ == "__main__":
    main()
