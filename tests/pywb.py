"""pywb, the real one, for replay tests: a collection in a temporary folder, its `wayback` server on 127.0.0.1.

pywb 2.10 pins redis==2.10.6, which cannot live beside our redis>=5, so it has a virtual
environment of its own, `.venv-pywb` (`make pywb` builds it; `make test` depends on it). A test
that needs it calls `need_pywb()`: without that environment it is skipped, in CI it fails.

    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("warcs", files)        # wb-manager init + add: pywb indexes them itself
        pywb.add_wacz("package", wacz)        # or a WACZ, --unpack-wacz
        pywb.use_index("ours", cdxj, files)   # or our CDXJ beside the WARC files
        pywb.start()                          # wayback on a free port of 127.0.0.1, every collection
        answer = pywb.get("warcs", url, "20260101000000")  # /warcs/20260101000000id_/URL
        latest = pywb.get("warcs", url)                    # /warcs/id_/URL

`get` asks for the `id_` form: the archived payload and headers, unrewritten, as a browser
that accepts gzip, deflate and br would get them. Redirects are not followed, so an archived
3xx is seen as such.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from archive.serve.replay import stop_process
from tests.conftest import ROOT, need

PYWB_BIN = ROOT / ".venv-pywb" / "bin"
START_SECONDS = 60.0


def need_pywb() -> None:
    """Skip (fail in CI) unless pywb's own environment has been built."""
    need(
        all((PYWB_BIN / tool).is_file() for tool in ("wayback", "wb-manager")),
        f"pywb is not installed in {PYWB_BIN.parent}: run `make pywb`",
    )


@dataclass(frozen=True)
class Replayed:
    """What pywb answered: status, media type (Content-Type without parameters), headers and body."""

    status: int
    media_type: str
    headers: dict[str, str]
    body: bytes


class Pywb:
    """pywb collections under `root`, served by `wayback` between `start()` and the end of `with`.

    Collections are made (`wb-manager init`) by the first call that fills them, before `start()`.
    """

    def __init__(self, root: Path) -> None:
        need_pywb()
        self.root = root
        self.port = 0
        self._server: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    def coll_dir(self, collection: str) -> Path:
        return self.root / "collections" / collection

    def add_warcs(self, collection: str, paths: list[Path]) -> None:
        """Add WARC files as they are: pywb copies them and indexes them itself."""
        self._init(collection)
        self._manager("add", collection, *map(str, paths))

    def add_wacz(self, collection: str, path: Path) -> None:
        """Add a WACZ with --unpack-wacz: its WARC files and the index it carries (indexes/*.cdx.gz)."""
        self._init(collection)
        done = self._manager("add", collection, str(path), "--unpack-wacz")
        if "does not contain" in done:  # pywb only warns and adds nothing
            raise AssertionError(f"wb-manager refused {path.name}: {done}")

    def use_index(self, collection: str, cdxj: Path, warc_files: list[Path]) -> None:
        """Serve our own CDXJ: the WARC files into archive/, the index into indexes/ (pywb reads it as is)."""
        self._init(collection)
        for path in warc_files:
            shutil.copy(path, self.coll_dir(collection) / "archive" / path.name)
        shutil.copy(cdxj, self.coll_dir(collection) / "indexes" / "index.cdxj")

    def index_lines(self, collection: str) -> list[str]:
        """Return the lines of every index in a collection (what pywb looks captures up in)."""
        return [
            line
            for index in sorted((self.coll_dir(collection) / "indexes").iterdir())
            for line in index.read_text(encoding="utf-8").splitlines()
        ]

    def start(self) -> None:
        """Start `wayback` on a free port of 127.0.0.1 and wait until it answers."""
        for _attempt in range(3):  # the free port may be taken between the look and the bind
            self.port = _free_port()
            log = open(self.root / f"wayback-{self.port}.log", "wb")  # noqa: SIM115 - the server writes it
            with log:
                self._server = subprocess.Popen(
                    [str(PYWB_BIN / "wayback"), "-b", "127.0.0.1", "-p", str(self.port)],
                    cwd=self.root,
                    env=_environment(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_until_up():
                return
            self.stop()
        raise AssertionError(f"wayback did not start: {self._log()}")

    def get(self, collection: str, url: str, timestamp: str | None = None) -> Replayed:
        """Return pywb's answer for `url` at `timestamp` (14 digits), or in the latest view, unrewritten (id_).

        Asked as a browser asks (`Accept-Encoding: gzip, deflate, br`), pywb sends the payload as
        archived, Content-Encoding and all; to a client that accepts no encoding it sends it decoded.
        """
        assert self._server is not None, "start() the server first"
        path = f"/{collection}/{timestamp or ''}id_/{url.partition('#')[0]}"  # a browser sends no fragment
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"})
            response = connection.getresponse()
            body = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        return Replayed(response.status, media, headers, body)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            stop_process(server)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _wait_until_up(self) -> bool:
        assert self._server is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.2)
                continue
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", "/")
                if connection.getresponse().status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        return False

    def _init(self, collection: str) -> None:
        if not self.coll_dir(collection).is_dir():
            self._manager("init", collection)

    def _manager(self, *args: str) -> str:
        done = subprocess.run(
            [str(PYWB_BIN / "wb-manager"), *args],
            cwd=self.root,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"wb-manager {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def _log(self) -> str:
        logs = sorted(self.root.glob("wayback-*.log"))
        return logs[-1].read_text(encoding="utf-8", errors="replace")[-3000:] if logs else "(no log)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment() -> dict[str, str]:
    """Return this process's environment without what would make pywb's Python load ours (its own venv only)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONWARNINGS"] = "ignore"  # pywb's own deprecation warnings are not ours to fail on
    return env
