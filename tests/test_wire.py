"""HTTP recorded as it was transferred: the bytes a raw-socket server read and wrote, and the WARC records of them.

The server (tests/rawsite.py) writes exact bytes — header names in a chosen case and order, a
folded header, an unusual reason phrase, chunks with extensions and a trailer, gzip, a 204, an
HTTP/1.0 body delimited by the close, bodies past the size limit, a body cut short — and keeps
exactly what it read. Scrapy's download handler for http/https (archive.crawl.wire) runs in
this process on the project's reactor (`get_crawler`), then WireMiddleware and the WARC writer,
as a crawl runs them; one crawl through the CLI does it all end to end.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator

from archive.crawl.middlewares import TRUNCATED_RECEIVED, WireMiddleware
from archive.crawl.responses import capture_from_response, capture_from_wire
from archive.crawl.wire import (
    BodyLost,
    BodyTruncated,
    HeadRefused,
    RecordedExchange,
    WireDownloadHandler,
    recorded_exchange,
)
from archive.warc.sources import SourceRef, find_sources, load_capture
from archive.warc.writer import WarcFileWriter
from scraper import Capture, build_record
from scraper.capture import dechunk
from tests.conftest import Cli, warc_files, warcio_check
from tests.newsite import article_html
from tests.rawsite import Answer, Exchange, RawSite, TunnelProxy, self_signed_context

MakeCrawler = Callable[..., Crawler]
RunAsync = Callable[..., Any]

PAGE = article_html("http://archive.invalid", "harbour/ferry-timetable").encode("utf-8")
OTHER_PAGE = article_html("http://archive.invalid", "harbour/fish-market").encode("utf-8")
THIRD_PAGE = article_html("http://archive.invalid", "council/cycle-routes").encode("utf-8")


def _mixed(body: bytes) -> bytes:
    """A 200 with an unusual reason phrase, names in odd case and order, and a folded header."""
    return (
        b"HTTP/1.1 200 Fine Thanks, And You\r\n"
        b"x-lower-case: kept as sent\r\n"
        b'ETag: "v1"\r\n'
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"X-Folded: first part,\r\n\t second part\r\n"
        b"SET-COOKIE: a=1; Path=/\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body


def _head_of(extra: int, body: bytes, value: bytes = b"v") -> bytes:
    """Return a 200 response head with Content-Type, Content-Length and `extra` more header fields."""
    fields = b"".join(b"X-Field-%d: %s\r\n" % (n, value) for n in range(extra))
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%sContent-Length: %d\r\n\r\n" % (fields, len(body))


def _chunks(body: bytes, size: int, *, extensions: bool = True, trailer: bool = False) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    framed = b"".join(
        b"%x%s\r\n%s\r\n" % (len(p), b";part=%d" % n if extensions else b"", p) for n, p in enumerate(pieces)
    )
    return framed + (b"0;last\r\nX-Checksum: none\r\n\r\n" if trailer else b"0\r\n\r\n")


def _chunked(body: bytes, *, trailer: bool = False) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
    return head + (b"Trailer: X-Checksum\r\n" if trailer else b"") + b"\r\n" + _chunks(body, 700, trailer=trailer)


ZIPPED = gzip.compress(OTHER_PAGE, mtime=0)
ROBOTS = b"User-agent: *\nAllow: /\n"
LIMIT = 16_384  # the size limit of the crawls here: DOWNLOAD_MAXSIZE, --max-body-bytes
BIG = 40_000
ANSWERS = {
    "/robots.txt": Answer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(ROBOTS), ROBOTS)
    ),
    "/mixed": Answer(_mixed(PAGE)),
    "/chunked": Answer(_chunked(PAGE)),
    "/chunked-trailer": Answer(_chunked(OTHER_PAGE, trailer=True)),
    "/gzip": Answer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ZIPPED) + ZIPPED
    ),
    "/empty": Answer(b"HTTP/1.1 204 No Content\r\nServer: raw-socket\r\n\r\n"),
    "/form": Answer(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
    "/old": Answer(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nan HTTP/1.0 body, ended by the close", close=True
    ),
    "/big": Answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % BIG + b"b" * BIG),
    "/big-chunked": Answer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        + _chunks(b"c" * BIG, 4096, extensions=False)
    ),
    "/at-limit": Answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % LIMIT + b"a" * LIMIT),
    "/cut": Answer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n" + b"x" * 300, close=True
    ),
    "/moved": Answer(b"HTTP/1.1 302 Found\r\nlocation: /chunked-trailer\r\nContent-Length: 0\r\n\r\n"),
    "/article-1.0": Answer(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n" + THIRD_PAGE,
        close=True,
    ),
    "/unchanged": Answer(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nX-Odd:   spaced out\r\n\r\n'),
    # Response heads at and past the limits (256 fields, 256 KiB): Content-Type and Content-Length
    # are two of the fields.
    "/fields-at-limit": Answer(_head_of(254, PAGE) + PAGE),
    "/fields-over": Answer(_head_of(255, PAGE) + PAGE),
    "/many-headers": Answer(_head_of(100_000, PAGE) + PAGE),
    "/head-over": Answer(_head_of(200, PAGE, value=b"v" * 1400) + PAGE),  # 200 fields, over 280 KB
}


def _cookie_redacted(request: bytes) -> bytes:
    """Return request bytes with each Cookie header's value as a request record stores it: `[redacted]`."""
    return re.sub(rb"(?im)^(cookie:)[^\r\n]*", rb"\1 [redacted]", request)


def _split(message: bytes) -> tuple[bytes, bytes]:
    """Return (head with its blank line, body) of an HTTP message the server wrote or read (CR LF lines)."""
    end = message.index(b"\r\n\r\n") + 4
    return message[:end], message[end:]


@pytest.fixture(scope="module")
def reactor_threads(asyncio_reactor: Any) -> Iterator[None]:
    """Start the reactor's thread pool (name resolution runs there) for a reactor that is never run."""
    from twisted.internet import reactor

    pool = reactor.getThreadPool()  # type: ignore[attr-defined]
    started = pool.started
    if not started:
        pool.start()
    yield
    if not started:
        pool.stop()


@pytest.fixture
def site() -> Iterator[RawSite]:
    with RawSite(ANSWERS) as served:
        yield served


@pytest.fixture
def fetch(
    make_crawler: MakeCrawler, run_async: RunAsync, reactor_threads: None
) -> Iterator[Callable[..., Response | BodyTruncated | BodyLost]]:
    """Return fetch(request, **settings): the response the handler gives, or the failure it raises with one."""
    handlers: list[WireDownloadHandler] = []

    def download(request: Request, **settings: Any) -> Response | BodyTruncated | BodyLost:
        if not handlers or settings:
            handlers.append(WireDownloadHandler.from_crawler(make_crawler({"DOWNLOAD_MAXSIZE": LIMIT, **settings})))
        try:
            response: Response = run_async(handlers[-1].download_request(request))
        except (BodyTruncated, BodyLost) as failure:
            return failure
        return response

    yield download
    for handler in handlers:
        run_async(handler.close())


def _recorded(outcome: Response | BodyTruncated | BodyLost) -> RecordedExchange:
    response = outcome if isinstance(outcome, Response) else outcome.response
    recorded = recorded_exchange(response)
    assert recorded is not None
    return recorded


def _assert_as_on_the_wire(recorded: RecordedExchange, exchange: Exchange) -> None:
    assert recorded.request_head + recorded.request_body == exchange.received
    assert recorded.response_head + recorded.body == exchange.sent


# --- the download handler ---------------------------------------------------------------------


def test_each_exchange_is_recorded_byte_for_byte_on_a_persistent_connection(
    site: RawSite, fetch: Callable[..., Any]
) -> None:
    paths = ["/mixed", "/chunked", "/chunked-trailer", "/gzip", "/empty", "/form", "/old"]
    outcomes = {}
    for path in paths:
        method = "POST" if path == "/form" else "GET"
        request = Request(f"{site.base}{path}", method=method, body=b"a=1&b=2" if method == "POST" else b"")
        request.headers[b"X-Odd-CASE"] = b"as given"
        outcomes[path] = fetch(request)
    for path in paths:
        [exchange] = site.exchanges_for(path)
        recorded = _recorded(outcomes[path])
        _assert_as_on_the_wire(recorded, exchange)
        assert recorded.truncated is None, path
    # One connection carried them all, one exchange after another, each told apart.
    assert {e.connection for e in site.exchanges} == {1}
    # Scrapy's response is what it always was: de-chunked, headers parsed (the recording is beside it).
    assert outcomes["/chunked"].body == PAGE
    assert outcomes["/chunked-trailer"].body == OTHER_PAGE
    assert outcomes["/mixed"].headers[b"Etag"] == b'"v1"'
    assert _recorded(outcomes["/form"]).request_body == b"a=1&b=2"
    assert _recorded(outcomes["/old"]).response_head.startswith(b"HTTP/1.0 200 OK\r\n")


def test_a_body_past_the_limit_is_kept_up_to_it_and_the_download_fails_truncated(
    site: RawSite, fetch: Callable[..., Any]
) -> None:
    for path in ("/big", "/big-chunked"):
        failure = fetch(Request(f"{site.base}{path}"))
        assert isinstance(failure, BodyTruncated), path
        assert f"size limit ({LIMIT} bytes)" in str(failure)
        recorded = _recorded(failure)
        [exchange] = site.exchanges_for(path)
        head, body = _split(exchange.sent)
        assert recorded.request_head == exchange.received
        assert recorded.response_head == head
        assert recorded.body == body[:LIMIT]  # counted as transferred: chunk framing too
        assert recorded.truncated == "length"
    whole = fetch(Request(f"{site.base}/at-limit"))
    assert isinstance(whole, Response) and _recorded(whole).truncated is None
    assert len(_recorded(whole).body) == LIMIT
    # A request's own limit (meta download_maxsize) counts, as in Scrapy.
    failure = fetch(Request(f"{site.base}/at-limit", meta={"download_maxsize": 600}))
    assert isinstance(failure, BodyTruncated) and _recorded(failure).body == b"a" * 600


def test_the_warn_size_still_warns(site: RawSite, fetch: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        response = fetch(Request(f"{site.base}/at-limit"), DOWNLOAD_WARNSIZE=500, DOWNLOAD_MAXSIZE=LIMIT)
    assert isinstance(response, Response)
    assert "larger than download warn size (500)" in caplog.text


def test_a_connection_lost_mid_body_keeps_what_came(site: RawSite, fetch: Callable[..., Any]) -> None:
    failure = fetch(Request(f"{site.base}/cut"))
    assert isinstance(failure, BodyLost)
    recorded = _recorded(failure)
    assert recorded.truncated == "disconnect" and recorded.body == b"x" * 300
    _assert_as_on_the_wire(recorded, site.exchanges_for("/cut")[0])
    # With DOWNLOAD_FAIL_ON_DATALOSS off the partial response is handed on, as Scrapy does; still marked.
    response = fetch(Request(f"{site.base}/cut"), DOWNLOAD_FAIL_ON_DATALOSS=False)
    assert isinstance(response, Response) and "dataloss" in response.flags
    assert _recorded(response).truncated == "disconnect"


def test_https_records_the_http_inside_tls_directly_and_through_a_connect_tunnel(
    tmp_path: Path, fetch: Callable[..., Any]
) -> None:
    with RawSite(ANSWERS, tls=self_signed_context(tmp_path)) as site, TunnelProxy() as proxy:
        direct = fetch(Request(f"{site.base}/chunked"))
        tunnelled = fetch(Request(f"{site.base}/mixed", meta={"proxy": proxy.url}))
        _assert_as_on_the_wire(_recorded(direct), site.exchanges_for("/chunked")[0])
        _assert_as_on_the_wire(_recorded(tunnelled), site.exchanges_for("/mixed")[0])
    # The tunnel's own exchange with the proxy is not part of the page's.
    assert proxy.requests and proxy.requests[0].startswith(f"CONNECT 127.0.0.1:{site.port} HTTP/1.1".encode())
    assert b"CONNECT" not in _recorded(tunnelled).request_head


def test_a_response_head_past_a_limit_is_refused_and_the_connection_serves_no_more(
    site: RawSite, fetch: Callable[..., Any]
) -> None:
    at_limit = fetch(Request(f"{site.base}/fields-at-limit"))
    assert isinstance(at_limit, Response) and at_limit.body == PAGE
    assert _recorded(at_limit).response_head == _split(ANSWERS["/fields-at-limit"].data)[0]
    fields = "refused: its response head has more than 256 header fields (ARCHIVE_MAX_HEADER_FIELDS)"
    size = "refused: its response head is larger than 262144 bytes (ARCHIVE_MAX_HEADER_BYTES)"
    for path, message in (("/fields-over", fields), ("/many-headers", fields), ("/head-over", size)):
        with pytest.raises(HeadRefused) as refused:
            fetch(Request(f"{site.base}{path}"))
        assert str(refused.value) == message, path
    # The handler goes on: the next request has a connection of its own and is recorded whole.
    after = fetch(Request(f"{site.base}/mixed"))
    _assert_as_on_the_wire(_recorded(after), site.exchanges_for("/mixed")[0])
    # The limits are settings.
    with pytest.raises(HeadRefused, match=r"more than 3 header fields"):
        fetch(Request(f"{site.base}/mixed"), ARCHIVE_MAX_HEADER_FIELDS=3)
    with pytest.raises(HeadRefused, match=r"larger than 100 bytes"):
        fetch(Request(f"{site.base}/mixed"), ARCHIVE_MAX_HEADER_BYTES=100)


# --- WireMiddleware and the WARC writer -------------------------------------------------------


def test_the_capture_reads_status_and_headers_from_the_head_as_received(
    site: RawSite, fetch: Callable[..., Any], make_crawler: MakeCrawler
) -> None:
    request = Request(f"{site.base}/mixed")
    capture = _capture(make_crawler(), request, fetch(request))
    assert capture.http_head == _split(ANSWERS["/mixed"].data)[0]
    assert (capture.http_protocol, capture.http_status, capture.http_reason) == (
        "HTTP/1.1",
        200,
        "Fine Thanks, And You",
    )
    assert [name for name, _ in capture.http_headers] == [
        "x-lower-case", "ETag", "Content-Type", "X-Folded", "SET-COOKIE", "Content-Length"
    ]  # fmt: skip
    assert dict(capture.http_headers)["X-Folded"] == "first part,\t second part"  # as warcio unfolds it
    assert capture.request is not None and capture.request.raw_head == site.exchanges_for("/mixed")[0].received
    assert (capture.request.method, capture.request.target, capture.request.protocol) == ("GET", "/mixed", "HTTP/1.1")


def _capture(crawler: Crawler, request: Request, outcome: Response | BodyTruncated | BodyLost) -> Capture:
    """Return the capture WireMiddleware makes of an exchange, as a crawl hands it to the pipeline."""
    wire_mw = WireMiddleware.from_crawler(crawler)
    if isinstance(outcome, Response):
        wire_mw.process_response(request, outcome)
        return capture_from_wire(request.meta["wire"])
    heard: list[Capture] = []

    def hear(capture: Capture, **_: Any) -> None:
        heard.append(capture)

    assert crawler.stats is not None
    counted = crawler.stats.get_value("archive/truncated", 0)
    crawler.signals.connect(hear, signal=TRUNCATED_RECEIVED)
    assert wire_mw.process_exception(request, outcome) is None  # the failure goes on: a retry, or the errback
    crawler.signals.disconnect(hear, signal=TRUNCATED_RECEIVED)
    assert crawler.stats.get_value("archive/truncated") == counted + 1
    [capture] = heard
    return capture


def _blocks(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    """(type, WARC headers, block as stored) of every record in a WARC file."""
    with path.open("rb") as fh:
        return [
            (r.rec_type, dict(r.rec_headers.headers), r.raw_stream.read())
            for r in ArchiveIterator(fh, no_record_parse=True)
        ]


def test_warc_records_hold_each_exchange_as_it_crossed_the_wire(
    site: RawSite, fetch: Callable[..., Any], make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    crawler = make_crawler()
    writer = WarcFileWriter(tmp_path / "warc")
    captures = {}
    for path in ("/mixed", "/chunked", "/chunked-trailer", "/gzip", "/empty", "/old", "/big", "/cut"):
        request = Request(f"{site.base}{path}")
        captures[path] = _capture(crawler, request, fetch(request))
        writer.write_exchange(captures[path])
    writer.close()
    [warc] = warc_files(tmp_path)
    records = _blocks(warc)
    responses = {h["WARC-Target-URI"].removeprefix(site.base): (h, b) for kind, h, b in records if kind == "response"}
    requests = {h["WARC-Concurrent-To"]: b for kind, h, b in records if kind == "request"}
    for path, (headers, block) in responses.items():
        [exchange] = site.exchanges_for(path)
        # As sent, but for the cookie /mixed set, whose value a request record does not keep.
        assert requests[headers["WARC-Record-ID"]] == _cookie_redacted(exchange.received), path
        head, body = _split(exchange.sent)
        if path == "/big":
            assert headers["WARC-Truncated"] == "length" and block == head + body[:LIMIT]
        elif path == "/cut":
            assert headers["WARC-Truncated"] == "disconnect" and block == exchange.sent
        else:
            assert "WARC-Truncated" not in headers and block == exchange.sent, path
    assert set(responses) == set(captures)
    checked = warcio_check([warc])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # warcio reads the chunked body back de-chunked (pywb reads it with the same reader).
    with warc.open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI").endswith("/chunked"):
                assert record.content_stream().read() == PAGE


def test_replaying_the_warc_gives_the_captures_the_crawl_made(
    site: RawSite, fetch: Callable[..., Any], make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    crawler = make_crawler()
    writer = WarcFileWriter(tmp_path / "warc")
    live = {}
    for path in ("/mixed", "/chunked", "/chunked-trailer", "/gzip"):
        request = Request(f"{site.base}{path}")
        response = fetch(request)
        WireMiddleware.from_crawler(crawler).process_response(request, response)
        live[path] = capture_from_response(_decoded(response, request))
        writer.write_capture(live[path], build_record(live[path]))
    writer.close()
    replayed = {}
    for ref in find_sources([str(tmp_path / "warc")]):
        if not isinstance(ref, SourceRef):  # warcinfo, conversion, metadata: not captures
            continue
        capture = load_capture(ref)
        replayed[(capture.url or "").removeprefix(site.base)] = capture
    assert set(replayed) == set(live)
    for path, capture in live.items():
        again = replayed[path]
        assert (again.payload, again.body, again.http_headers) == (capture.payload, capture.body, capture.http_headers)
        assert build_record(again).id == build_record(capture).id
        assert build_record(again).text == build_record(capture).text
    # The payload is the body as transferred; what extraction reads is de-chunked and decompressed.
    assert live["/chunked"].payload == _split(ANSWERS["/chunked"].data)[1] and live["/chunked"].body == PAGE
    assert dechunk(live["/chunked-trailer"].payload) == OTHER_PAGE == replayed["/chunked-trailer"].body
    assert live["/gzip"].payload == ZIPPED and live["/gzip"].body == OTHER_PAGE


def _decoded(response: Response, request: Request) -> Response:
    """Return the response as the spider gets it: request attached, gzip undone (HttpCompressionMiddleware)."""
    encoding = response.headers.get(b"Content-Encoding")
    body = gzip.decompress(response.body) if encoding == b"gzip" else response.body
    return response.replace(body=body, request=request)


def test_revisits_use_the_response_head_as_received_and_the_originals_digest(
    site: RawSite, fetch: Callable[..., Any], make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    crawler = make_crawler()
    writer = WarcFileWriter(tmp_path / "warc")

    def fetched(path: str) -> Capture:
        request = Request(f"{site.base}{path}")
        response = fetch(request)
        WireMiddleware.from_crawler(crawler).process_response(request, response)
        return capture_from_response(response.replace(request=request))

    first = fetched("/chunked")
    original = writer.write_capture(first, build_record(first))
    again = fetched("/chunked")
    assert build_record(again).id == original.id  # the same bytes as transferred: nothing new
    writer.write_revisit(again, profile="identical-payload-digest", original=original)
    writer.write_revisit(fetched("/unchanged"), profile="server-not-modified", original=original)
    writer.close()
    [warc] = warc_files(tmp_path)
    records = _blocks(warc)
    [response] = [h for kind, h, _ in records if kind == "response"]
    identical, not_modified = [(h, b) for kind, h, b in records if kind == "revisit"]
    assert identical[0]["WARC-Payload-Digest"] == response["WARC-Payload-Digest"]  # what pywb looks the original up by
    assert identical[1] == _split(ANSWERS["/chunked"].data)[0]  # the head as received, no payload
    assert not_modified[0]["WARC-Payload-Digest"] == response["WARC-Payload-Digest"] and not_modified[1] == b""
    [answer] = [
        b for kind, h, b in records if kind == "metadata" and h.get("Content-Type") == "application/warc-fields"
    ]
    assert answer == (
        b"http-response-line: HTTP/1.1 304 Not Modified\r\n"
        b'http-response-header: ETag: "v1"\r\n'
        b"http-response-header: X-Odd:   spaced out\r\n"
    )
    checked = warcio_check([warc])
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- a crawl, end to end ----------------------------------------------------------------------

# The robots.txt the crawl obeyed, pages, and a redirect to one sent chunked with a trailer (a 204
# or a text/plain body is no page: the crawl reports it failed and archives nothing of it).
CRAWLED = ("/robots.txt", "/mixed", "/chunked", "/gzip", "/article-1.0", "/moved", "/chunked-trailer")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, RawSite, Any]]:
    work = tmp_path_factory.mktemp("wire-crawl")
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    with RawSite(ANSWERS) as site:
        urls = [
            f"{site.base}{path}"
            for path in ("/mixed", "/chunked", "/gzip", "/article-1.0", "/moved", "/big", "/many-headers")
        ]
        done = cli(
            "crawl", *urls, "--depth", "0", "--archive-other", "--max-body-bytes", str(LIMIT), "--retries", "0",
            "--delay", "0", "--timeout", "5", "--jobs", "1", "--allow-network", "127.0.0.1/32",
        )  # fmt: skip
        yield cli, site, done


@pytest.mark.slow
def test_a_crawl_archives_each_exchange_as_the_server_saw_it(crawled: tuple[Cli, RawSite, Any]) -> None:
    cli, site, done = crawled
    assert done.code == 1, done.out + done.err  # /big is past the size limit, /many-headers past the header limit
    failures = sorted(line for line in done.err.splitlines() if line.strip().startswith("failed:"))
    [big, refused] = failures or [done.err, ""]
    assert f"{site.base}/big" in big and "size limit" in big
    assert f"{site.base}/many-headers: refused: its response head has more than 256 header fields" in refused
    assert len(site.exchanges_for("/many-headers")) == 1  # asked once, and nothing kept of it
    records = [r for path in warc_files(cli.data) for r in _blocks(path)]
    responses = {h["WARC-Target-URI"].removeprefix(site.base): (h, b) for kind, h, b in records if kind == "response"}
    assert not [h for _, h, _ in records if h.get("WARC-Target-URI", "").endswith("/many-headers")]
    requests = {h["WARC-Concurrent-To"]: b for kind, h, b in records if kind == "request"}
    for path in CRAWLED:
        headers, block = responses[path]
        [exchange] = site.exchanges_for(path)
        assert block == exchange.sent, path
        # As sent, but for the cookie /mixed set, whose value a request record does not keep.
        assert requests[headers["WARC-Record-ID"]] == _cookie_redacted(exchange.received), path
    checked = warcio_check(warc_files(cli.data))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_a_crawl_archives_a_body_past_the_limit_truncated(crawled: tuple[Cli, RawSite, Any]) -> None:
    cli, site, _ = crawled
    records = [r for path in warc_files(cli.data) for r in _blocks(path)]
    [(headers, block)] = [
        (h, b) for kind, h, b in records if kind == "response" and h["WARC-Target-URI"].endswith("/big")
    ]
    head, body = _split(site.exchanges_for("/big")[0].sent)
    assert headers["WARC-Truncated"] == "length" and block == head + body[:LIMIT]


@pytest.mark.slow
def test_replaying_the_crawls_warc_gives_the_same_records(
    crawled: tuple[Cli, RawSite, Any], tmp_path: Path, sqlite_url: str
) -> None:
    cli, _, _ = crawled
    again = Cli(cwd=tmp_path, data=tmp_path / "data", db=sqlite_url)
    again("replay", *map(str, warc_files(cli.data)), check=True)

    def records(of: Cli) -> dict[str, tuple[str, str]]:
        rows = [json.loads(line) for line in of("export", "--format", "jsonl", check=True).out.splitlines()]
        return {row["source_url"]: (row["id"], row["text"]) for row in rows}

    crawled_records = records(cli)
    assert len(crawled_records) == 5  # the articles
    assert records(again) == crawled_records


@pytest.mark.slow
def test_pywb_replays_a_chunked_body_from_the_crawls_warc(crawled: tuple[Cli, RawSite, Any], tmp_path: Path) -> None:
    from tests.pywb import Pywb

    cli, site, _ = crawled
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("wire", warc_files(cli.data))
        pywb.start()
        for path, body in (("/chunked", PAGE), ("/mixed", PAGE), ("/gzip", ZIPPED)):
            answer = pywb.get("wire", f"{site.base}{path}")
            assert answer.status == 200 and answer.media_type == "text/html", path
            assert answer.body == body, path
        # The chunk framing was undone for the page; pywb names the coding it undid.
        assert pywb.get("wire", f"{site.base}/chunked").headers["x-archive-orig-transfer-encoding"] == "chunked"
