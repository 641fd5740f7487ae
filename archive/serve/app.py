"""The web application: search, record, versions, stories, sites and runs pages, and the JSON API for each.

Every page is rendered by Jinja2 with autoescape on, so whatever a capture holds (title, text,
URL, headers) reaches the browser as text. The app's own pages run only its own script
(Content-Security-Policy `script-src 'self'`); archived pages are replayed on another origin
(`archive.serve.replay`) and framed, never inlined.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.catalog.engine import QueryTimeout
from archive.catalog.facade import Catalog
from archive.errors import ArchiveError, NotFound
from archive.layout import DataLayout
from archive.serve import _views
from archive.serve._raw import raw_payload, source_text

__all__ = ["LOOPBACK_NAMES", "TOKEN_COOKIE", "ServeConfig", "create_app", "host_guard", "token_guard"]

View = Callable[[Request], dict[str, Any]]

TOKEN_COOKIE = "scraper_serve_token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
STATIC = Path(__file__).parent / "static"


@dataclass
class ServeConfig:
    """What one `serve` process serves: the data folder, its catalog (opened read-only), and how replay is reached."""

    data: Path
    catalog: Catalog
    token: str | None = None
    replay_port: int | None = None  # the replay origin's port on the same host; None: no replay
    replay_collection: str = "archive"
    frontier: Any = None  # a Frontier to show queues and workers of, when given
    replay_ready: Callable[[], str | None] = field(default=lambda: "replay is not configured")
    hosts: frozenset[str] = LOOPBACK_NAMES  # without a token, the Host names answered (DNS rebinding)


def create_app(config: ServeConfig) -> Starlette:
    """Return the ASGI application for `config` (wrapped in the token check when a token is set)."""
    pages = _Pages(config)
    catalog = config.catalog
    views: dict[str, tuple[str, View, str | None]] = {  # path: (its API path, view, template)
        "/record/{id}": ("/api/record/{id}", lambda r: _views.record_view(catalog, r.path_params["id"]), "record.html"),
        "/record/{id}/diff": ("/api/record/{id}/diff", _diff(catalog), "diff.html"),
        "/stories": ("/api/stories", lambda r: _views.stories_view(catalog, dict(r.query_params)), "stories.html"),
        "/sites": ("/api/sites", lambda r: _views.sites_view(catalog, dict(r.query_params)), "sites.html"),
        "/runs": ("/api/runs", lambda r: _views.runs_view(catalog, config.frontier), "runs.html"),
    }
    routes = [
        Route("/", pages.search),
        Route("/api/search", pages.endpoint(lambda r: _views.search_view(catalog, dict(r.query_params)), None)),
        *(Route(path, pages.endpoint(view, template)) for path, (_, view, template) in views.items()),
        *(Route(api, pages.endpoint(view, None)) for api, view, _ in views.values()),
        Route("/record/{id}/raw", pages.raw),
        Route("/record/{id}/source", pages.source),
        Route("/record/{id}/replay", pages.replay),
        Route("/api", pages.api_index),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: pages.not_found, 405: pages.not_found})
    app.add_middleware(_Headers, replay_port=config.replay_port)
    app.add_middleware(token_guard(config.token) if config.token else host_guard(config.hosts))
    return app


class _Pages:
    """The endpoints: each reads the catalog through `_views` and renders the result as HTML or JSON."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.env = Environment(
            loader=PackageLoader("archive.serve", "templates"), autoescape=select_autoescape(default=True)
        )
        self.env.filters["q"] = lambda value: quote(str(value), safe="")

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**values)
        return HTMLResponse(html, status_code=status)

    def failed(self, exc: Exception, *, as_json: bool) -> Response:
        """Return the one-line error a bad request or a missing record gets, as a page or as JSON."""
        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, QueryTimeout) else 400
        if as_json:
            return JSONResponse({"error": str(exc)}, status_code=status)
        return self.render("error.html", status, message=str(exc))

    async def not_found(self, request: Request, exc: Exception) -> Response:
        as_json = request.url.path.startswith("/api")
        return self.failed(NotFound(f"no page at {request.url.path}"), as_json=as_json)

    def search(self, request: Request) -> Response:
        params = dict(request.query_params)
        try:
            found = _views.search_view(self.config.catalog, params)
        except ArchiveError as exc:
            return self.render("search.html", 400, error=str(exc), params=params, found=None)
        return self.render("search.html", params=params, found=found, error=None)

    def raw(self, request: Request) -> Response:
        try:
            record = _views.get_record(self.config.catalog, request.path_params["id"])
            body = raw_payload(DataLayout(self.config.data), record)
        except ArchiveError as exc:
            return self.failed(exc, as_json=False)
        disposition = f'attachment; filename="{record.id}.raw"'
        return Response(body, media_type="application/octet-stream", headers={"Content-Disposition": disposition})

    def source(self, request: Request) -> Response:
        try:
            record = _views.get_record(self.config.catalog, request.path_params["id"])
            text, cut = source_text(DataLayout(self.config.data), record)
        except ArchiveError as exc:
            return self.failed(exc, as_json=False)
        return self.render("source.html", record=record.to_dict(with_text=False), text=text, cut=cut)

    def replay(self, request: Request) -> Response:
        try:
            record = _views.get_record(self.config.catalog, request.path_params["id"])
        except ArchiveError as exc:
            return self.failed(exc, as_json=False)
        why_not = None if _views.replayable(record) else "this capture was not fetched from a web address"
        why_not = why_not or self.config.replay_ready()
        frame = None
        if why_not is None and self.config.replay_port is not None:
            stamp = "".join(c for c in record.provenance.captured_at if c.isdigit())[:14]
            origin = f"{request.url.scheme}://{request.url.hostname}:{self.config.replay_port}"
            frame = f"{origin}/{self.config.replay_collection}/{stamp}/{record.source_url}"
        return self.render("replay.html", record=record.to_dict(with_text=False), frame=frame, why_not=why_not)

    def endpoint(self, view: View, template: str | None) -> Callable[[Request], Response]:
        """Return the endpoint that renders what `view` finds into `template`, or as JSON when there is none."""

        def answer(request: Request) -> Response:
            try:
                found = view(request)
            except ArchiveError as exc:
                return self.failed(exc, as_json=template is None)
            if template is None:
                return JSONResponse(found)
            return self.render(template, found=found, replay=self.config.replay_port is not None)

        return answer

    def api_index(self, request: Request) -> Response:
        return JSONResponse({"endpoints": list(_API_ROUTES), "documented_in": "docs/serve.md"})


_API_ROUTES = (
    "/api/search",
    "/api/record/{id}",
    "/api/record/{id}/diff?a=N&b=M",
    "/api/stories",
    "/api/sites",
    "/api/runs",
)

# The app's pages load their own style sheet and script and nothing else; they may frame only the
# replay origin (added per request). Archived strings are text; no inline script runs even if one slipped in.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class _Headers:
    """Security headers on every answer of the app: CSP, no sniffing, no referrer, no framing of the app."""

    def __init__(self, app: ASGIApp, replay_port: int | None = None) -> None:
        self.app = app
        self.replay_port = replay_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _host_of(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                frame = (
                    f"; frame-src {scope['scheme']}://{host}:{self.replay_port}" if host and self.replay_port else ""
                )
                extra = [
                    (b"content-security-policy", (_CSP + frame).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def _host_of(scope: Scope) -> str | None:
    server = scope.get("server")
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").rsplit(":", 1)[0] if not value.startswith(b"[") else value.decode()
            return host if all(c.isalnum() or c in ".-[]:" for c in host) else None
    return str(server[0]) if server else None


def token_guard(token: str) -> Callable[[ASGIApp], ASGIApp]:
    """Return middleware that answers 401 to any request without the token (header, cookie or ?token=)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            request = Request(scope)
            given = _given_token(request)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                await Response("a token is needed: ?token=... once, or Authorization: Bearer ...\n", 401)(
                    scope, receive, send
                )
                return
            if request.query_params.get("token"):
                # From a link: remembered in a cookie the page's own requests carry, and taken out of
                # the address (history, bookmarks, what is shared) by a redirect to it without.
                kept = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                away = RedirectResponse(request.url.path + (f"?{kept}" if kept else ""), 303)
                away.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                await away(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded

    return middleware


def host_guard(hosts: frozenset[str]) -> Callable[[ASGIApp], ASGIApp]:
    """Return middleware that answers 403 to a request naming another host than `hosts` (port aside).

    Without a token, a web page elsewhere could point a name of its own at 127.0.0.1 (DNS
    rebinding) and read the archive as its own origin; its requests still name that host.
    """

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and _hostname(Request(scope).headers.get("host", "")) not in hosts:
                await Response("this server answers to its own address only\n", 403)(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded

    return middleware


def _hostname(host: str) -> str:
    """Return the name in a Host header, without its port or an IPv6 address's brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def _given_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)


def _diff(catalog: Catalog) -> View:
    def view(request: Request) -> dict[str, Any]:
        given = request.query_params
        return _views.diff_view(catalog, request.path_params["id"], given.get("a", "1"), given.get("b", "2"))

    return view
