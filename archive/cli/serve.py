"""`scraper serve`: browse, search and replay the archive in a web page (read-only)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from typing import Any

from archive.cli._common import bounded, command, db_url, reach_catalog, shown
from archive.cli.crawl import frontier_options, frontier_url
from archive.errors import UsageError

__all__ = ["TOKEN_ENV", "add_commands"]

TOKEN_ENV = "SCRAPER_SERVE_TOKEN"
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,256}")  # cookie- and header-safe, long enough not to guess


def add_commands(sub: Any) -> None:
    """Register `serve` on the CLI's subcommand parser."""
    serve = command(sub, "serve", "browse, search and replay the archive in a web page (read-only)", _serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; others need --token)"
    )
    serve.add_argument("--port", type=bounded(1, 65535), default=8080, help="the app's port (default 8080)")
    serve.add_argument(
        "--replay-port", type=bounded(1, 65535), help="port of the replay origin on the same host (default: --port + 1)"
    )
    serve.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"token every request must carry, 16+ of A-Z a-z 0-9 . _ ~ - (default ${TOKEN_ENV}); "
        "required to listen beyond loopback",
    )
    serve.add_argument(
        "--pywb", metavar="PATH", help="pywb's `wayback` program for replay (default ./.venv-pywb/bin/wayback)"
    )
    frontier_options(serve, worker=False, help_text="Redis URL of a shared frontier whose queues and workers to show")
    serve.set_defaults(reads_catalog=True)


def _serve(args: argparse.Namespace) -> int:
    reach_catalog(args)  # serve opens it read-only: a URL or server that cannot work is one line before it starts
    replay_port = args.replay_port or args.port + 1
    if replay_port == args.port or replay_port > 65535:
        raise UsageError(f"--replay-port {replay_port} must be another port than --port {args.port}, at most 65535")
    _check_access(args.host, args.token)
    from archive.serve.replay import find_wayback

    frontier = None
    if frontier_url(args):
        from archive.frontier.store import Frontier

        frontier = Frontier.connect(args.frontier, args.frontier_name or "scraper")
    wayback = find_wayback(args.pywb)
    if args.pywb and wayback is None:
        raise UsageError(f"--pywb {shown(args.pywb)}: not an executable file")

    def ready() -> None:
        where = f"http://{_url_host(args.host)}:{args.port}/"
        print(f"serving {shown(args.data)} at {where} (replay on port {replay_port}); Ctrl-C stops", file=sys.stderr)

    from archive.serve import serve

    serve(
        args.data,
        db_url(args),
        host=args.host,
        port=args.port,
        replay_port=replay_port,
        token=args.token,
        wayback=wayback,
        frontier=frontier,
        ready=ready,
    )
    return 0


def _check_access(host: str, token: str | None) -> None:
    """Raise UsageError for a token of the wrong form, or a host beyond loopback without a token."""
    if token is not None and not _TOKEN.fullmatch(token):
        raise UsageError("--token must be 16 to 256 of A-Z a-z 0-9 . _ ~ -")
    if token is None and not _loopback(host):
        raise UsageError(f"--host {shown(host)} is not a loopback address: give --token (or ${TOKEN_ENV}) too")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
