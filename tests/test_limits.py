"""Hostile and broken input meets a limit with a clear reason: bombs, loops, lies, huge lines, deep nesting, internal addresses."""

from __future__ import annotations

import io
import json
import re
import resource
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import PROJECT_SEEDS, Cli, warc_files, warcio_check
from tests.hostile import BOMB_BYTES, INJECTION_TITLE, HostileSite, hostile_site

pytestmark = pytest.mark.slow  # crawls and replays of bombs, loops and 1 GiB inputs

LOOPBACK = ["--allow-network", "127.0.0.1/32"]
CRAWL = ["--depth", "0", "--delay", "0", "--timeout", "20", "--retries", "0", "--jobs", "1"]
MAX_RSS = 900 * 1024 * 1024  # a crawl or replay that inflated a bomb would pass 1 GiB


@pytest.fixture(scope="module")
def site() -> Iterator[HostileSite]:
    with _listener("127.0.0.2") as internal, hostile_site(f"http://127.0.0.2:{internal.port}/admin") as served:
        served.internal_listener = internal  # type: ignore[attr-defined]
        yield served


class _Listener:
    """A TCP port on another loopback address that counts the connections it gets (it should get none)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@contextmanager
def _listener(host: str) -> Iterator[_Listener]:
    listener = _Listener(host)
    try:
        yield listener
    finally:
        listener.sock.close()


def _failures(output: str) -> dict[str, str]:
    """Return {URL or input: reason} from a run's summary lines ("  failed: WHERE: WHY")."""
    found = {}
    for line in output.splitlines():
        if line.strip().startswith("failed: "):
            where, _, why = line.strip().removeprefix("failed: ").partition(": ")
            found[where] = why
    return found


def _peak_rss_of_children() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def test_gzip_and_brotli_bombs_are_abandoned_at_the_body_limit(cli: Cli, site: HostileSite) -> None:
    urls = [f"{site.base}/bomb.gz", f"{site.base}/bomb.br", f"{site.base}/fine"]
    done = cli("crawl", *urls, *CRAWL, *LOOPBACK, "--max-body-bytes", "5000000")
    failed = _failures(done.out + done.err)
    for bomb in urls[:2]:
        assert "exceeded DOWNLOAD_MAXSIZE (5000000 B) during decompression" in failed[bomb], done.out + done.err
    assert done.code == 1 and "1 records written" in done.out  # the harmless page is archived all the same
    assert _peak_rss_of_children() < MAX_RSS  # neither bomb was inflated (each is 1 GiB)
    assert warcio_check(warc_files(cli.data)).returncode == 0


def test_bombs_inside_warc_records_are_refused_on_replay(cli: Cli, tmp_path: Path) -> None:
    from tests.hostile import _brotli_bomb, _gzip_bomb

    warc = tmp_path / "bombs.warc.gz"
    with open(warc, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for name, encoding, body in (("gz", "gzip", _gzip_bomb()), ("br", "br", _brotli_bomb())):
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html"), ("Content-Encoding", encoding)], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                f"https://bombs.example/{name}",
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
            )
            writer.write_record(record)
    page = tmp_path / "fine.txt"
    page.write_text(_STORY, encoding="utf-8")
    done = cli("replay", str(warc), str(page), "--jobs", "1")
    failed = _failures(done.out + done.err)
    reasons = [why for where, why in failed.items() if where.startswith(str(warc))]
    assert len(reasons) == 2 and all("decompresses to over the" in why for why in reasons), done.out
    assert len(failed) == 2, failed
    assert "1 records written" in done.out
    assert _peak_rss_of_children() < MAX_RSS
    assert BOMB_BYTES > 64 * 1024 * 1024  # each bomb is over the default limit it must meet


def test_a_one_gigabyte_single_line_file_is_refused_unread_and_a_long_one_is_archived_whole(
    cli: Cli, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as out:
        line = b"word " * (1 << 18)  # 1.25 MiB, no newline anywhere
        for _ in range(820):
            out.write(line)
    assert huge.stat().st_size > 1 << 30
    long_line = tmp_path / "long.txt"
    long_line.write_bytes(b"harbour ferry timetable repairs " * 100_000)  # 3.2 MB, one line
    done = cli("replay", str(huge), str(long_line), str(PROJECT_SEEDS / "text"), "--jobs", "1")
    failed = _failures(done.out + done.err)
    assert failed[str(huge)].startswith(f"too large: {huge.stat().st_size} bytes, over the"), done.out
    assert len(failed) == 1
    assert _peak_rss_of_children() < MAX_RSS
    [record] = [r for r in _export(cli) if r["source_url"] == "urn:file:long.txt"]  # a file given directly: its name
    assert record["word_count"] == 400_000  # every word kept: too long to strip, archived whole
    assert record["provenance"]["extractor_options"]["stripped"] is False
    assert cli("verify").code == 0


def test_deeply_nested_html_gets_a_record_or_a_clear_reason(cli: Cli, site: HostileSite) -> None:
    done = cli("crawl", f"{site.base}/deep", f"{site.base}/fine", *CRAWL, *LOOPBACK)
    failed = _failures(done.out + done.err)
    assert "Traceback" not in done.err and "RecursionError" not in done.out + done.err
    archived = {r["source_url"] for r in _export(cli)}
    assert f"{site.base}/fine" in archived
    assert f"{site.base}/deep" in archived or failed[f"{site.base}/deep"] == "no main text found in the HTML"


def test_a_warc_record_whose_content_length_lies_is_reported_and_the_rest_goes_on(cli: Cli, tmp_path: Path) -> None:
    def good(n: int) -> bytes:
        return _resource(f"https://lies.example/{n}", f"Story number {n}\n\n{_STORY}")

    longer = _resource("https://lies.example/longer", "A record that says it is longer than it is.")
    shorter = _resource("https://lies.example/shorter", "A record that says it is shorter than it is.")
    assert b"Content-Length: 43\r\n" in longer and b"Content-Length: 44\r\n" in shorter
    says_more = longer.replace(b"Content-Length: 43", b"Content-Length: 943").rstrip(b"\r\n")  # 900 bytes short
    says_less = shorter.replace(b"Content-Length: 44", b"Content-Length: 24")  # 20 bytes of text follow its block
    (tmp_path / "more.warc").write_bytes(good(0) + says_more)
    (tmp_path / "less.warc").write_bytes(good(1) + says_less + good(2))
    done = cli("replay", str(tmp_path / "more.warc"), str(tmp_path / "less.warc"), str(PROJECT_SEEDS / "text"))
    failed = _failures(done.out + done.err)
    assert "corrupt or truncated WARC" in failed[str(tmp_path / "more.warc")], done.out
    assert "corrupt or truncated WARC" in failed[str(tmp_path / "less.warc")], done.out
    urls = {r["source_url"] for r in _export(cli)}
    assert {"https://lies.example/0", "https://lies.example/1"} <= urls  # the records before each lie
    assert "https://lies.example/longer" not in urls  # never archived cut short
    assert len([u for u in urls if not u.startswith("https://lies.example")]) == 3  # and the other inputs
    assert warcio_check(warc_files(cli.data)).returncode == 0


def test_a_sitemap_index_listing_itself_is_read_once(cli: Cli, site: HostileSite) -> None:
    before = site.hits["/sitemap-index.xml"]
    done = cli("crawl", f"{site.base}/sitemap-index.xml", *CRAWL, *LOOPBACK)
    assert done.code == 0, done.out + done.err
    assert site.hits["/sitemap-index.xml"] == before + 1


def test_a_redirect_loop_ends_with_a_reason(cli: Cli, site: HostileSite) -> None:
    done = cli("crawl", f"{site.base}/loop/a", *CRAWL, *LOOPBACK)
    assert _failures(done.out + done.err)[f"{site.base}/loop/a"] == "max redirections reached", done.out
    assert site.hits["/loop/a"] <= 6 and site.hits["/loop/b"] <= 6  # REDIRECT_MAX_TIMES = 10 hops in all


@pytest.mark.parametrize("path", ["/feed-bomb.xml", "/sitemap-bomb.xml"])
def test_entity_bombs_in_feeds_and_sitemaps_are_not_expanded(cli: Cli, site: HostileSite, path: str) -> None:
    done = cli("crawl", f"{site.base}{path}", *CRAWL, *LOOPBACK)
    assert "Traceback" not in done.err
    assert "lol" * 1000 not in done.out + done.err
    assert _peak_rss_of_children() < MAX_RSS  # 10^9 "lol"s would be 3 GB
    assert all("lol" * 100 not in r["text"] for r in _export(cli))


def test_crawls_refuse_internal_addresses_unless_allowed(cli: Cli, site: HostileSite) -> None:
    internal = site.internal_listener  # type: ignore[attr-defined]
    # A public-looking page redirecting into the machine's own network: the hop is refused.
    done = cli("crawl", f"{site.base}/to-internal", *CRAWL, *LOOPBACK)
    failed = _failures(done.out + done.err)
    assert f"127.0.0.2:{internal.port}" in " ".join(failed) or any("127.0.0.2" in w for w in failed), done.out
    assert any("127.0.0.2 is a loopback address" in why for why in failed.values()), failed
    assert internal.connections == 0  # refused before connecting, not after
    # Not allowed at all: the address itself, and a name that resolves to it.
    port = site.base.rsplit(":", 1)[1]
    for url in (f"{site.base}/fine", f"http://localhost:{port}/fine"):
        done = cli("crawl", url, *CRAWL)
        why = _failures(done.out + done.err)[url]
        assert "loopback address" in why and "--allow-network" in why, why
    assert _export(cli) == []


def test_what_a_page_controls_reaches_no_sql_text_shell_or_file_path(cli: Cli, site: HostileSite) -> None:
    url = f"{site.base}/..%2F..%2Fevil.html"
    done = cli("crawl", url, *CRAWL, *LOOPBACK)
    assert done.code == 0, done.out + done.err
    [record] = _export(cli)
    assert record["title"] == INJECTION_TITLE  # stored as given, by bound parameters
    hits = json.loads(cli("query", "DROP TABLE captures", "--format", "json", check=True).out)
    assert [h["id"] for h in hits] == [record["id"]]  # the catalog is whole and finds it
    for words in ("' OR 1=1 --", '"NEAR(a b)" *', "$(touch", ") OR (", "title:x"):
        found = cli("query", words)  # search syntax in a query is words, never an error
        assert found.code in (0, 1) and found.err.strip() == "", found.err  # 1: nothing matched, as grep says
    names = sorted(p.name for p in (cli.data / "warc").iterdir())
    assert all(re.fullmatch(r"scraper-\d{17}-\d{5}-[\w.-]+\.warc\.gz", n) for n in names), names
    # Nothing the page named was made: in this test's folder (any depth) or beside it (a "../evil" path);
    # other tests' folders beside it may hold files named evil* of their own making.
    made = [*cli.cwd.rglob("evil*"), *cli.cwd.parent.glob("evil*")]
    assert not made and not Path("/tmp/pwned").exists(), made


_STORY = (
    "Ferry returns to its full timetable\n\n"
    "The harbour ferry will run its full timetable again from Monday, after six weeks of repairs to the "
    "landing stage that was damaged during the February storms.\n\n"
    "The operator said season tickets would be extended by the number of days lost, and thanked "
    "passengers for their patience while the coastal bus replaced the early crossings.\n"
)


def _resource(uri: str, text: str) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    body = text.encode()
    record = writer.create_warc_record(
        uri, "resource", payload=io.BytesIO(body), length=len(body), warc_content_type="text/plain"
    )
    writer.write_record(record)
    return out.getvalue()


def _export(cli: Cli) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
