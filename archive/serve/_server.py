"""Running `serve`: the app and the replay origin, two uvicorn servers on one event loop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import uvicorn

from archive.layout import DataLayout
from archive.serve._catalog import open_read_only
from archive.serve.app import LOOPBACK_NAMES, ServeConfig, create_app
from archive.serve.replay import COLLECTION, Replay, proxy_app

__all__ = ["serve"]


def serve(
    data: Path,
    db_url: str,
    *,
    host: str,
    port: int,
    replay_port: int,
    token: str | None,
    wayback: Path | None,
    frontier: Any = None,
    ready: Any = None,
) -> None:
    """Serve the archive until interrupted: the app on `port`, replayed pages on `replay_port` of the same host."""
    catalog = open_read_only(db_url)
    hosts = LOOPBACK_NAMES | {host.strip("[]")}
    replay = Replay(DataLayout(data), wayback)
    config = ServeConfig(
        data=data,
        catalog=catalog,
        token=token,
        replay_port=replay_port,
        replay_collection=COLLECTION,
        frontier=frontier,
        replay_ready=replay.why_not,
        hosts=hosts,
    )
    servers = [
        uvicorn.Server(uvicorn.Config(create_app(config), host=host, port=port, log_level="warning")),
        uvicorn.Server(
            uvicorn.Config(proxy_app(replay, port, token, hosts), host=host, port=replay_port, log_level="warning")
        ),
    ]
    # uvicorn raises the signal that stopped it again once it is done: as SystemExit, so pywb is stopped too.
    signal.signal(signal.SIGTERM, _exit)
    replay.start_in_background()
    try:
        if ready is not None:
            ready()
        asyncio.run(_both(servers))
    finally:
        replay.close()
        catalog.close()


async def _both(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
