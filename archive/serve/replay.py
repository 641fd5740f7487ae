"""Replay for `serve`: pywb, run from its own environment, behind a proxy on an origin of its own.

pywb does the URL rewriting (server side and its wombat client side) that makes an archived
page load its requisites from the archive. It pins redis==2.10.6, so it runs as a subprocess
from its own virtual environment (`make pywb`), bound to 127.0.0.1 on a free port. The browser
reaches it only through `proxy_app`, served on the replay port: that proxy checks the token,
drops cookies both ways, and sets a Content-Security-Policy whose `'self'` is the replay origin,
so an archived script can reach neither the app (another port: another origin) nor the live web.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from archive.errors import ArchiveError
from archive.layout import DataLayout
from archive.serve.app import LOOPBACK_NAMES, host_guard, token_guard

__all__ = ["COLLECTION", "PYWB_ENV", "Replay", "find_wayback", "proxy_app", "stop_process"]

PYWB_ENV = "SCRAPER_PYWB"
COLLECTION = "archive"
START_SECONDS = 60.0
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate"}
)
_DROPPED = _HOP_BY_HOP | {"set-cookie", "content-security-policy", "x-frame-options", "content-length"}
_FORWARDED = ("accept", "accept-encoding", "accept-language", "range", "if-none-match", "if-modified-since", "referer")


def find_wayback(given: str | None = None) -> Path | None:
    """Return pywb's `wayback` program: as given (or $SCRAPER_PYWB), else ./.venv-pywb/bin/wayback, else on PATH."""
    for candidate in (given, os.environ.get(PYWB_ENV), ".venv-pywb/bin/wayback", shutil.which("wayback")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate).resolve()
    return None


class Replay:
    """pywb serving the data folder's WARC files, indexed into a folder of its own (the data folder is only read)."""

    def __init__(self, layout: DataLayout, wayback: Path | None) -> None:
        self.layout = layout
        self.wayback = wayback
        self.port = 0
        self.work = Path(tempfile.mkdtemp(prefix="scraper-serve-replay-"))
        self.index = self.work / "index.cdxj"
        self._server: subprocess.Popen[bytes] | None = None
        self._why_not: str | None = "replay is starting: pywb is being started" if wayback else _NO_PYWB
        self._indexed: tuple[tuple[str, int, int], ...] = ()
        self._lock = threading.Lock()

    def start_in_background(self) -> None:
        """Index the WARC files and start pywb in a thread: `serve` answers at once, replay once it is up."""
        if self.wayback is not None:
            threading.Thread(target=self._start, name="replay-start", daemon=True).start()

    def why_not(self) -> str | None:
        """Return why replay cannot serve now (None: it can); new WARC files are indexed as they appear."""
        if self._why_not is None and self._warc_state() != self._indexed:
            threading.Thread(target=self._reindex, name="replay-index", daemon=True).start()
        return self._why_not

    def _start(self) -> None:
        try:
            self._reindex()
            self._launch()
            self._why_not = None
        except (OSError, RuntimeError, subprocess.SubprocessError, ArchiveError) as exc:  # the index not written
            self._why_not = f"pywb did not start: {exc}"

    def _warc_state(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        for path in self.layout.warc_files():
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((path.name, stat.st_size, stat.st_mtime_ns))
        return tuple(found)

    def _reindex(self) -> None:
        from archive.export.cdxj import build_cdxj  # cdxj-indexer loads pkg_resources: a quarter second

        if not self._lock.acquire(blocking=False):
            return  # an index is being built already
        try:
            state = self._warc_state()
            files = [self.layout.warc / name for name, _, _ in state]
            build_cdxj(self.layout.warc, self.index, files)  # replaced whole: pywb reads it per lookup
            self._indexed = state
        finally:
            self._lock.release()

    def _launch(self) -> None:
        assert self.wayback is not None
        config = self.work / "config.yaml"
        config.write_text(_config(self.index, self.layout.warc.resolve()), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["PYTHONWARNINGS"] = "ignore"
        for _attempt in range(3):  # the free port may be taken between the look and the bind
            self.port = _free_port()
            with open(self.work / "wayback.log", "ab") as log:
                self._server = subprocess.Popen(
                    [str(self.wayback), "-b", "127.0.0.1", "-p", str(self.port)],
                    cwd=self.work,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if _answers(self._server, self.port):
                return
            self.stop()
        raise RuntimeError(f"wayback did not answer; its log is {self.work / 'wayback.log'}")

    def stop(self) -> None:
        """Stop pywb (if it runs)."""
        server, self._server = self._server, None
        if server is not None:
            stop_process(server)

    def close(self) -> None:
        """Stop pywb and remove its working folder."""
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def stop_process(server: subprocess.Popen[Any]) -> None:
    """Ask a server process to end (SIGTERM); kill it when it has not within 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


_NO_PYWB = f"pywb's `wayback` was not found: run `make pywb`, or give --pywb PATH (or ${PYWB_ENV})"


def _config(index: Path, warc: Path) -> str:
    # Only this collection, no live web, no recording; JSON strings are valid YAML scalars.
    import json

    return (
        "collections:\n"
        f"  {COLLECTION}:\n"
        f"    index: {json.dumps(str(index))}\n"
        f"    archive_paths: {json.dumps(str(warc) + '/')}\n"
        "framed_replay: false\n"
        "enable_memento: false\n"
        "csp-header: null\n"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(server: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status < 500:
                return True
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
        finally:
            connection.close()
    return False


def replay_csp(app_origin: str) -> str:
    """Return the policy on every replayed answer: its own origin only, framed by the app only."""
    return (
        "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; connect-src 'self'; "
        f"form-action 'none'; base-uri 'self'; object-src 'none'; frame-ancestors {app_origin}"
    )


def proxy_app(
    replay: Replay, app_port: int, token: str | None = None, hosts: frozenset[str] = LOOPBACK_NAMES
) -> Starlette:
    """Return the ASGI app of the replay origin: GET and HEAD forwarded to pywb, the answers confined."""
    client = httpx.AsyncClient(timeout=60.0, follow_redirects=False)

    async def forward(request: Request) -> Response:
        why_not = replay.why_not()
        if why_not is not None:
            return Response(f"replay unavailable: {why_not}\n", 503, media_type="text/plain")
        headers = {name: value for name, value in request.headers.items() if name in _FORWARDED}
        headers["host"] = request.headers.get("host", f"127.0.0.1:{replay.port}")
        target = httpx.URL(f"http://127.0.0.1:{replay.port}{request.url.path}", query=request.url.query.encode())
        answer = await client.send(client.build_request(request.method, target, headers=headers), stream=True)
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _DROPPED]
        app_origin = f"{request.url.scheme}://{request.url.hostname}:{app_port}"
        response = StreamingResponse(
            _body(answer), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
        )
        response.raw_headers = [
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in kept),
            (b"content-security-policy", replay_csp(app_origin).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        return response

    @contextlib.asynccontextmanager
    async def closing_client(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()  # its pooled connections to pywb

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "HEAD"])], lifespan=closing_client)
    app.add_middleware(token_guard(token) if token else host_guard(hosts))
    return app


async def _body(answer: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in answer.aiter_raw():
        yield chunk
