"""`scraper serve` in this process (Starlette's test client over the real app): pages, JSON API, escaping, token.

The archive is made by the real replay of a WARC file written here: a news page captured twice
with different text (two versions), its style sheet, and a hostile page whose title, text, URL
and attributes carry script and `javascript:` links.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import re
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from starlette.testclient import TestClient
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.serve._catalog import open_read_only
from archive.serve.app import ServeConfig, create_app
from tests.conftest import Cli, copy_archive

STORY = "http://news.example/harbour-story"
STYLE = "http://news.example/style.css"
HOSTILE = 'http://evil.example/page?q="><script>window.pwned=1</script>'
MARKER = "pwned"  # what hostile script would set on window

_PARAGRAPH = (
    "The harbour authority met on Tuesday to discuss the lighthouse repairs, which have been "
    "delayed for three winters by storms and by a shortage of masons who know the old stone. "
)


def _story(version: int) -> str:
    extra = (
        "<p>On Thursday the council voted to fund the repairs in full, and work starts in spring.</p>"
        if version == 2
        else "<p>The council has not yet decided whether to pay for the repairs this year.</p>"
    )
    body = "".join(f"<p>{_PARAGRAPH} Paragraph {n} of the report names the quay and the keeper.</p>" for n in range(6))
    return (
        "<!doctype html><html lang='en'><head><title>Lighthouse repairs at the harbour</title>"
        "<meta name='author' content='Ada Quay'><meta property='article:published_time' content='2026-01-05'>"
        f"<link rel='stylesheet' href='/style.css'></head><body><article><h1>Lighthouse repairs at the harbour</h1>"
        f"{body}{extra}</article></body></html>"
    )


_HOSTILE_HTML = (
    "<!doctype html><html lang='en'><head><title>&lt;script&gt;window.pwned=2&lt;/script&gt; Harbour &quot;quote"
    "</title><meta name='author' content='&lt;img src=x onerror=window.pwned=3&gt;'></head><body><article>"
    "<h1>&lt;script&gt;window.pwned=2&lt;/script&gt; Harbour</h1>"
    + "".join(
        f"<p>{_PARAGRAPH} &lt;img src=x onerror=&quot;window.pwned=4&quot;&gt; and "
        f"&lt;a href=&quot;javascript:window.pwned=5&quot;&gt;click&lt;/a&gt; line {n}.</p>"
        for n in range(5)
    )
    + "<p><a href='javascript:window.pwned=6'>a javascript: link</a>"
    "<img src='x' onerror='window.pwned=7'><script>window.pwned=8</script></p>"
    "</article></body></html>"
)


def write_site_warc(folder: Path) -> Path:
    """Write the test site's captures into one WARC file in `folder`; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.warc.gz"
    with gc_warc(path) as writer:
        _response(writer, STORY, _story(1).encode(), "text/html; charset=utf-8", "2026-01-10T08:00:00Z")
        _response(writer, STYLE, b"body { background: rgb(250, 240, 230); }", "text/css", "2026-01-10T08:00:01Z")
        _response(writer, STORY, _story(2).encode(), "text/html; charset=utf-8", "2026-02-10T08:00:00Z")
        _response(writer, HOSTILE, _HOSTILE_HTML.encode(), "text/html; charset=utf-8", "2026-01-11T08:00:00Z")
        # The first story fetched again a week on, the same bytes: a revisit of it (a visit, not a version).
        revisit = writer.create_revisit_record(
            STORY, _digest(_story(1).encode()), STORY, "2026-01-10T08:00:00Z",
            warc_headers_dict={"WARC-Date": "2026-01-17T08:00:00Z"},
        )  # fmt: skip
        writer.write_record(revisit)
    return path


def _digest(body: bytes) -> str:
    import base64
    import hashlib

    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


@contextlib.contextmanager
def gc_warc(path: Path) -> Iterator[WARCWriter]:
    """Yield a writer of a gzipped WARC file at `path`; the spools warcio leaves behind are collected after."""
    with warnings.catch_warnings():
        # warcio spools each payload to digest it and leaves the spool to the collector: collected here.
        warnings.filterwarnings("ignore", r"unclosed file <tempfile\.SpooledTemporaryFile", ResourceWarning)
        with open(path, "wb") as out:
            yield WARCWriter(out, gzip=True)
        gc.collect()


def _response(writer: WARCWriter, url: str, body: bytes, media_type: str, date: str) -> None:
    headers = StatusAndHeaders("200 OK", [("Content-Type", media_type), ("Content-Length", str(len(body)))], "HTTP/1.1")
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=headers, warc_headers_dict={"WARC-Date": date}
    )
    writer.write_record(record)


@pytest.fixture(scope="module")
def site_archive(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The test site's WARC file replayed into an archive of its own (a template: tests read it or a copy)."""
    work = tmp_path_factory.mktemp("serve-archive")
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    cli("replay", str(write_site_warc(work / "in")), check=True)
    return cli


def _client(cli: Cli, token: str | None = None) -> Iterator[TestClient]:
    catalog = open_read_only(cli.db)
    try:
        app = create_app(ServeConfig(data=cli.data, catalog=catalog, token=token, replay_port=None))
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            yield client
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def client(site_archive: Cli) -> Iterator[TestClient]:
    yield from _client(site_archive)


def _ids(client: TestClient, **params: str) -> list[str]:
    answer = client.get("/api/search", params=params)
    assert answer.status_code == 200, answer.text
    return [hit["id"] for hit in answer.json()["hits"]]


def _record_id(client: TestClient, url: str, captured_at: str) -> str:
    for hit in client.get("/api/search", params={"per_page": "100"}).json()["hits"]:
        if hit["url"] == url and hit["captured_at"].startswith(captured_at):
            return str(hit["id"])
    raise AssertionError(f"no capture of {url} at {captured_at}")


# --- search -------------------------------------------------------------------------------------


def test_search_page_counts_highlights_and_links_each_hit(client: TestClient) -> None:
    page = client.get("/", params={"q": "masons"})
    assert page.status_code == 200
    assert 'id="total">3 records<' in page.text
    assert page.text.count('class="hit"') == 3
    assert "<mark>masons</mark>" in page.text
    for record_id in _ids(client, q="masons"):
        assert f'href="/record/{record_id}"' in page.text


def test_search_filters_sort_and_versions_match_the_catalog(client: TestClient) -> None:
    assert len(_ids(client, q="masons", site="evil.example")) == 1
    assert len(_ids(client, site="news.example")) == 2
    assert len(_ids(client, versions="1")) == 2  # the story changed; the hostile page was captured once
    assert _ids(client, author="ada quay") == _ids(client, site="news.example", sort="newest")
    oldest = client.get("/api/search", params={"sort": "oldest"}).json()["hits"]
    assert [h["captured_at"][:10] for h in oldest] == ["2026-01-10", "2026-01-11", "2026-02-10"]
    assert _ids(client, captured_since="2026-02-01") == [oldest[-1]["id"]]
    assert _ids(client, q="council voted") == [oldest[-1]["id"]]  # only version 2 says so


def test_search_pages_through_results_with_shareable_urls(client: TestClient) -> None:
    first = client.get("/", params={"q": "harbour", "per_page": "1"})
    assert "page 1 of 3" in first.text
    following = re.search(r'id="next" href="([^"]+)"', first.text)
    assert following is not None
    second = client.get(following.group(1).replace("&amp;", "&"))
    assert "page 2 of 3" in second.text
    seen = [_ids(client, q="harbour", per_page="1", page=str(n))[0] for n in (1, 2, 3)]
    assert sorted(seen) == sorted(_ids(client, q="harbour"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-13-01"}, "since '2026-13-01' is not a date"),
        ({"sort": "random"}, "sort 'random' is not one of"),
        ({"page": "0"}, "page '0' is not a whole number"),
        ({"q": "word " * 300}, "characters long"),
        ({"crawl": "ffffff"}, "run 'ffffff': no run with this id (see the runs page)"),
    ],
)
def test_bad_search_input_is_one_error_line(client: TestClient, params: dict[str, str], message: str) -> None:
    page = client.get("/", params=params)
    assert page.status_code == 400
    assert str(escape(message)) in page.text  # as the page escapes it
    answer = client.get("/api/search", params=params)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


# --- record, versions, raw ------------------------------------------------------------------------


def test_record_page_shows_metadata_text_provenance_and_versions(client: TestClient) -> None:
    record_id = _record_id(client, STORY, "2026-02-10")
    page = client.get(f"/record/{record_id}").text
    data = client.get(f"/api/record/{record_id}").json()
    record = data["record"]
    assert '<h1 id="title">Lighthouse repairs at the harbour</h1>' in page
    assert "Ada Quay" in page
    assert "On Thursday the council voted" in page
    raw = record["provenance"]["warc_raw"]
    assert f"{raw['file']} @{raw['offset']}+{raw['length']}" in page
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert [v["this"] for v in data["versions"]] == [False, True]
    assert data["compare"] == [1, 2]
    # The first version was fetched again on 2026-01-17, the same bytes (the site WARC's revisit record).
    assert [v["revisits"] for v in data["versions"]] == [
        [{"captured_at": "2026-01-17T08:00:00Z", "profile": "identical-payload-digest"}],
        [],
    ]
    assert '<td>2026-01-17T08:00:00Z</td><td colspan="4">seen again: the same bytes</td>' in page


def test_versions_diff_shows_the_changed_line(client: TestClient) -> None:
    record_id = _record_id(client, STORY, "2026-02-10")
    diff = client.get(f"/api/record/{record_id}/diff", params={"a": "1", "b": "2"}).json()
    changed = {(line["kind"], line["text"]) for line in diff["lines"]}
    assert ("removed", "-The council has not yet decided whether to pay for the repairs this year.") in changed
    assert (
        "added",
        "+On Thursday the council voted to fund the repairs in full, and work starts in spring.",
    ) in changed
    page = client.get(f"/record/{record_id}/diff?a=1&b=2").text
    assert '<span class="added">+On Thursday' in page
    bad = client.get(f"/record/{record_id}/diff?a=1&b=3")
    assert bad.status_code == 400
    assert "versions run from 1 to 2" in bad.text


def test_raw_download_is_the_captured_bytes(client: TestClient) -> None:
    record_id = _record_id(client, STORY, "2026-01-10")
    raw = client.get(f"/record/{record_id}/raw")
    assert raw.status_code == 200
    assert raw.content == _story(1).encode()
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment")
    source = client.get(f"/record/{record_id}/source").text
    assert "&lt;link rel=&#39;stylesheet&#39; href=&#39;/style.css&#39;&gt;" in source


def test_the_source_view_reads_a_gzip_encoded_page_as_html(tmp_path: Path) -> None:
    """Most live pages come gzip-encoded (some chunked too): the raw download keeps the bytes, the source view the HTML."""
    import gzip

    sent = {}
    with gc_warc(tmp_path / "encoded.warc.gz") as writer:
        for coding in ("gzip", "gzip+chunked"):
            body = gzip.compress(_story(1).encode(), mtime=0)
            fields = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")]
            if coding.endswith("chunked"):
                fields.append(("Transfer-Encoding", "chunked"))
                body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            url = f"{STORY}-{coding}"
            sent[url] = body
            head = StatusAndHeaders("200 OK", fields, "HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), length=len(body), http_headers=head
                )
            )
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    cli("replay", str(tmp_path / "encoded.warc.gz"), check=True)
    for client in _client(cli):
        hits = client.get("/api/search").json()["hits"]
        assert sorted(hit["url"] for hit in hits) == sorted(sent)
        for hit in hits:
            assert client.get(f"/record/{hit['id']}/raw").content == sent[hit["url"]]  # as transferred
            source = client.get(f"/record/{hit['id']}/source").text
            assert "&lt;link rel=&#39;stylesheet&#39; href=&#39;/style.css&#39;&gt;" in source, hit["url"]


def test_unknown_and_malformed_ids_are_refused(client: TestClient) -> None:
    assert client.get("/record/abcdef123456").status_code == 404
    assert client.get("/api/record/abcdef123456").json() == {"error": "no record with id 'abcdef123456'"}
    assert client.get("/record/not-an-id").status_code == 400


# --- hostile captures -----------------------------------------------------------------------------


def _active_markup(html: str) -> list[str]:
    """Return what in a page would run: script elements (but the app's own), on* attributes, javascript: URLs."""
    import lxml.html

    found = []
    for element in lxml.html.document_fromstring(html).iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "script" and element.get("src") != "/static/serve.js":
            found.append(lxml.html.tostring(element, encoding="unicode"))
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or value.strip().lower().startswith("javascript:"):
                found.append(f"{element.tag} {name}={value}")
    return found


def test_hostile_strings_are_shown_as_text_on_every_page(client: TestClient) -> None:
    record_id = _record_id(client, HOSTILE, "2026-01-11")
    pages = {
        "search": client.get("/", params={"q": "harbour"}).text,
        "search echo": client.get("/", params={"q": "<script>x</script>", "site": '"><script>y</script>'}).text,
        "record": client.get(f"/record/{record_id}").text,
        "source": client.get(f"/record/{record_id}/source").text,
        "sites": client.get("/sites").text,
        "stories": client.get("/stories").text,
    }
    for name, html in pages.items():
        assert _active_markup(html) == [], name
    record = pages["record"]
    assert "&lt;script&gt;window.pwned=2&lt;/script&gt; Harbour" in record  # the title, as text
    assert "&lt;img src=x onerror=&#34;window.pwned=4&#34;&gt;" in record  # the text, as text
    assert "q=&#34;&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;" in record  # the URL, as text
    assert "&lt;script&gt;window.pwned=8&lt;/script&gt;" in pages["source"]  # the source, as text
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in pages["search echo"]  # the query, back in its box


def test_every_page_forbids_inline_script(client: TestClient) -> None:
    for path in ("/", "/sites", "/stories", "/runs", "/api/search"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy


# --- the file system ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/static/../catalog.sqlite", "/static/%2e%2e/app.py", "/static/..%2f..%2fcatalog.sqlite", "/record/..%2f..%2fetc"],
)
def test_paths_outside_the_package_assets_are_refused(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (400, 404)
    assert "SQLite format" not in answer.text
    assert "import" not in answer.text


def test_a_warc_file_named_outside_the_warc_folder_is_not_read(site_archive: Cli, tmp_path: Path) -> None:
    copy = copy_archive(site_archive, tmp_path)
    secret = copy.data / "secret.txt"
    secret.write_text("not an archive file")
    with sqlite3.connect(copy.db.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE warc_records SET file = '../secret.txt' WHERE role = 'raw'")
    for client in _client(copy):
        record_id = _ids(client, site="evil.example")[0]
        for suffix in ("raw", "source"):
            answer = client.get(f"/record/{record_id}/{suffix}")
            assert answer.status_code == 404
            assert "is not in the data folder&#39;s warc/" in answer.text
            assert "not an archive file" not in answer.text


# --- the token --------------------------------------------------------------------------------------

TOKEN = "s3cret-token-for-tests"


def test_the_token_is_checked_on_every_request(site_archive: Cli) -> None:
    for client in _client(site_archive, token=TOKEN):
        for path in ("/", "/api/search", "/static/serve.css", "/runs", "/nothing"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
        assert client.get("/api/search", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        first = client.get("/", params={"q": "harbour", "token": TOKEN}, follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/?q=harbour"  # the token is out of the address
        assert "HttpOnly" in first.headers["set-cookie"]
        assert "SameSite=strict" in first.headers["set-cookie"]
        assert client.get("/api/runs").status_code == 200  # the cookie the link left
        client.cookies.clear()
        assert client.get("/api/runs").status_code == 401


# --- read-only ---------------------------------------------------------------------------------------


def test_the_catalog_is_opened_read_only(site_archive: Cli, tmp_path: Path) -> None:
    from sqlalchemy.exc import OperationalError

    copy = copy_archive(site_archive, tmp_path)
    catalog = open_read_only(copy.db)
    try:
        with pytest.raises(OperationalError, match="readonly"):
            catalog.start_crawl("crawl", {})
    finally:
        catalog.close()


@pytest.mark.postgres
def test_a_postgresql_catalog_is_opened_read_only(postgres_url: str) -> None:
    from sqlalchemy.exc import InternalError

    from archive.catalog.facade import Catalog

    writable = Catalog(postgres_url)
    writable.migrate()
    writable.close()
    catalog = open_read_only(postgres_url)
    try:
        assert catalog.search("anything") == []
        with pytest.raises(InternalError, match="read-only transaction"):
            catalog.start_crawl("crawl", {})
    finally:
        catalog.close()


# --- stories, sites, runs -----------------------------------------------------------------------------


def test_sites_page_counts_captures_and_boilerplate(client: TestClient) -> None:
    sites = {s["site"]: s for s in client.get("/api/sites").json()["sites"]}
    assert sites["news.example"]["captures"] == 2
    assert sites["evil.example"]["captures"] == 1
    assert sites["news.example"]["captures_by_month"] == [
        {"month": "2026-01", "captures": 1},
        {"month": "2026-02", "captures": 1},
    ]
    news = sites["news.example"]
    assert news["boilerplate_share"] == round(1 - news["words_kept"] / news["words_read"], 4)
    assert client.get("/sites").text.count("<rect") >= 4  # two monthly bars, two boilerplate bars


def test_runs_show_a_running_run_progress(site_archive: Cli, tmp_path: Path) -> None:
    from archive.catalog.facade import Catalog

    copy = copy_archive(site_archive, tmp_path)
    for client in _client(copy):
        before = client.get("/api/runs").json()
        assert before["running"] == 0
        assert before["runs"][0]["captures_archived"] == 3
        writer = Catalog(copy.db)
        try:
            run = writer.start_crawl("crawl", {"urls": ["http://news.example/"]})
        finally:
            writer.close()
        after = client.get("/api/runs").json()
        assert after["running"] == 1
        assert [r["status"] for r in after["runs"] if r["id"] == run] == ["running"]
        page = client.get("/runs").text
        assert 'data-running="1"' in page
        assert f'data-run="{run}"' in page


def test_stories_group_the_story_across_sites(client: TestClient) -> None:
    stories = client.get("/api/stories").json()["stories"]
    assert len(stories) == 1
    assert stories[0]["sites"] == ["evil.example", "news.example"]
    assert len(stories[0]["timeline"]["dots"]) == len(stories[0]["documents"])


# --- the command -----------------------------------------------------------------------------------


def test_serve_refuses_other_hosts_without_a_token(site_archive: Cli) -> None:
    result = site_archive("serve", "--host", "0.0.0.0")
    assert result.code == 2
    assert (
        result.err.strip()
        == "error: --host 0.0.0.0 is not a loopback address: give --token (or $SCRAPER_SERVE_TOKEN) too"
    )
    short = site_archive("serve", "--token", "short")
    assert short.code == 2
    assert "--token must be 16 to 256" in short.err


def test_serve_on_no_archive_says_so(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, data=tmp_path / "none", db=f"sqlite:///{tmp_path / 'none' / 'catalog.sqlite'}")
    result = cli("serve")
    assert result.code == 2
    assert "no archive at" in result.err
    assert not (tmp_path / "none").exists()


def test_runs_show_a_frontiers_queues_and_workers(site_archive: Cli, frontier: Any) -> None:
    frontier.open_run("run-in-frontier", "crawl")
    frontier.register("worker-1", {"kind": "crawl", "data": "/somewhere"}, ttl=60)
    for n in (1, 2):
        request = {"url": f"http://news.example/{n}?<b>", "method": "GET", "headers": {}}
        assert frontier.push("run-in-frontier", json.dumps(request).encode()) == 1
    assert frontier.lease("worker-1", "crawl") is not None
    catalog = open_read_only(site_archive.db)
    try:
        app = create_app(ServeConfig(data=site_archive.data, catalog=catalog, frontier=frontier))
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            shown = client.get("/api/runs").json()["frontier"]
            page = client.get("/runs").text
    finally:
        catalog.close()
    run = next(r for r in shown["runs"] if r["id"] == "run-in-frontier")
    assert (run["status"], run["queued"], run["leased"]) == ("running", 1, 1)
    [worker] = shown["workers"]
    assert (worker["worker"], worker["alive"], worker["in_flight"]) == ("worker-1", True, 1)
    assert len(worker["requests"]) == 1
    assert worker["requests"][0] in ("http://news.example/1?<b>", "http://news.example/2?<b>")
    assert "<td>worker-1</td><td>crawl</td><td>yes</td><td>1</td>" in page
    assert f'<td class="url">{escape(worker["requests"][0])}</td>' in page


@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1:8080", 200), ("localhost:8080", 200), ("[::1]:8080", 200), ("rebound.example:8080", 403)],
)
def test_without_a_token_only_its_own_host_names_are_answered(client: TestClient, host: str, status: int) -> None:
    """A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) still sends that name."""
    assert client.get("/api/runs", headers={"Host": host}).status_code == status


def test_a_capture_from_a_file_is_not_offered_for_replay(tmp_path: Path) -> None:
    page = tmp_path / "in" / "note.html"
    page.parent.mkdir()
    page.write_text(_story(1), encoding="utf-8")
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    cli("replay", str(page.parent), check=True)
    for client in _client(cli):
        record_id = _ids(client)[0]
        assert client.get(f"/api/record/{record_id}").json()["replayable"] is False
        assert 'id="replay-link"' not in client.get(f"/record/{record_id}").text
        replay = client.get(f"/record/{record_id}/replay").text
        assert "replay unavailable: this capture was not fetched from a web address" in replay
        assert "<iframe" not in replay


def test_every_view_on_both_databases(db_url: str, tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=db_url)
    cli("replay", str(write_site_warc(tmp_path / "in")), check=True)
    for client in _client(cli):
        found = client.get("/api/search", params={"q": "masons", "site": "news.example"}).json()
        assert found["total"] == 2
        assert [h["marked"][1] for h in found["hits"]] == [["masons", True]] * 2
        assert client.get("/api/search", params={"versions": "1"}).json()["total"] == 2
        record_id = _record_id(client, STORY, "2026-02-10")
        assert [v["version"] for v in client.get(f"/api/record/{record_id}").json()["versions"]] == [1, 2]
        diff = client.get(f"/api/record/{record_id}/diff").json()
        assert [line["kind"] for line in diff["lines"]].count("added") == 1
        assert {s["site"] for s in client.get("/api/sites").json()["sites"]} == {"news.example", "evil.example"}
        assert client.get("/api/runs").json()["runs"][0]["captures_archived"] == 3
        for path in ("/", f"/record/{record_id}", "/stories", "/sites", "/runs"):
            assert client.get(path).status_code == 200, path
