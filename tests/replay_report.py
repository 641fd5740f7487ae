"""What replays, measured: a loopback site crawled twice with requisites, served by the real pywb.

    python -m tests.replay_report [--work DIR]

Crawls the styled site (tests/stylesite.py: two pages, stylesheets, fonts, images, a script)
and the news site's sitemap (tests/newsite.py) twice each with --requisites, then shuts them
down and asks pywb (.venv-pywb, `make pywb`) for every archived page at each of its capture
times and in the latest view, and for every archived requisite, from the WARC files as they
are, from our CDXJ, and from each run's WACZ. A page counts as correct when pywb answers 200
with its media type and the archived payload byte for byte. Also runs `wacz validate` on every
run's package. Prints the counts; offline, loopback only.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

from tests.conftest import ROOT, Cli, warc_files
from tests.newsite import NewsSite
from tests.pywb import Pywb
from tests.stylesite import InternalListener, StyleSite

REQUISITE_TYPES = ("text/css", "text/javascript", "application/javascript", "image/", "font/", "audio/", "video/")
FAST = ["--delay", "0", "--timeout", "3", "--allow-network", "127.0.0.1/32", "--requisites"]


def _stamp(warc_date: str) -> str:
    return "".join(ch for ch in warc_date if ch.isdigit())[:14]


def _as_served(record: Any) -> bytes:
    """Return a response's payload as a client accepting gzip is served it: chunking undone, encoding kept."""
    payload = record.raw_stream.read()
    if (record.http_headers.get_header("Transfer-Encoding") or "").lower() == "chunked":
        return bytes(ChunkedDataReader(io.BytesIO(payload)).read())
    return bytes(payload)


def _archived(cli: Cli) -> tuple[dict[str, list[tuple[str, bytes, str]]], dict[str, tuple[bytes, str]]]:
    """Return the pages (URL -> [(timestamp, payload, media type)]) and the requisites (URL -> (payload, type))."""
    pages = {r["source_url"] for r in map(json.loads, cli("export", check=True).out.splitlines())}
    captures: dict[str, list[tuple[str, bytes, str]]] = defaultdict(list)
    requisites: dict[str, tuple[bytes, str]] = {}
    originals: dict[str, tuple[bytes, str]] = {}
    for path in warc_files(cli.data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                url = record.rec_headers.get_header("WARC-Target-URI")
                when = _stamp(record.rec_headers.get_header("WARC-Date"))
                if record.rec_type == "response" and record.http_headers.get_statuscode() == "200":
                    body = _as_served(record)
                    media = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
                    if url in pages:
                        captures[url].append((when, body, media))
                        originals[url] = (body, media)
                    elif media.startswith(REQUISITE_TYPES):  # not robots.txt, sitemaps or feeds
                        requisites[url] = (body, media)
                elif record.rec_type == "revisit" and url in originals:
                    captures[url].append((when, *originals[url]))
    return dict(captures), requisites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the archive and pywb's folders here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="replay-report-"))
    work.mkdir(parents=True, exist_ok=True)
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    with InternalListener() as internal, StyleSite(internal.base) as styled, NewsSite() as news:
        for _ in range(2):
            cli("crawl", f"{styled.base}/", f"{news.base}/sitemap.xml", "--depth", "1", *FAST, check=True)
    runs = [run["id"] for run in json.loads(cli("crawls", "--format", "json", check=True).out)]
    captures, requisites = _archived(cli)
    files = warc_files(cli.data)
    cli("index", "--out", str(work / "index.cdxj"), check=True)
    sources = {"WARC files": "warcs", "our CDXJ": "cdxj"}
    validated = []
    with Pywb(work / "pywb") as pywb:
        pywb.add_warcs("warcs", files)
        pywb.use_index("cdxj", work / "index.cdxj", files)
        for number, run in enumerate(reversed(runs), 1):
            package = work / f"run-{number}.wacz"
            cli("wacz", "--crawl", run, "--out", str(package), check=True)
            wacz = ROOT / ".venv" / "bin" / "wacz"
            checked = subprocess.run([str(wacz), "validate", "-f", str(package)], capture_output=True, text=True)
            validated.append((f"run {number}", checked.returncode == 0))
            pywb.add_wacz(f"wacz{number}", package)
            sources[f"WACZ of run {number}"] = f"wacz{number}"
        pywb.start()
        print(f"{len(captures)} pages, {sum(len(c) for c in captures.values())} captures; {len(requisites)} requisites")
        for label, collection in sources.items():
            right = asked = 0
            for url, seen in captures.items():
                for when, body, media in [*seen, (None, seen[-1][1], seen[-1][2])]:  # each capture, then latest
                    answer = pywb.get(collection, url, when)
                    asked += 1
                    right += (answer.status, answer.media_type, answer.body) == (200, media, body)
            served = sum(
                (lambda a, b=body, m=media: (a.status, a.body) == (200, b))(pywb.get(collection, url))
                for url, (body, media) in requisites.items()
            )
            print(f"{label:16} pages correct {right}/{asked}   requisites served {served}/{len(requisites)}")
    for run, ok in validated:
        print(f"wacz validate {run}: {'pass' if ok else 'FAIL'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
