"""`scraper serve`: a read-only web application over an archive: search, records, versions, replay, stories, runs.

`create_app` builds the ASGI application; `serve` runs it (and the replay origin) with uvicorn.
"""

from __future__ import annotations

__all__ = ["ServeConfig", "create_app", "serve"]

from archive.serve._server import serve
from archive.serve.app import ServeConfig, create_app
