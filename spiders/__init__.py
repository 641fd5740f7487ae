"""Scrapy spiders. Live crawls and replay share one parse path (ArchiveSpider.parse)."""

from __future__ import annotations

from spiders.base import ArchiveSpider
from spiders.replay import ReplaySpider
from spiders.site import SiteSpider

__all__ = ["ArchiveSpider", "ReplaySpider", "SiteSpider"]
