"""Scrapy spiders. Live crawls, replay and re-extraction share one parse path (ArchiveSpider)."""

from __future__ import annotations

from spiders.base import ArchiveSpider
from spiders.reextract import ReextractSpider
from spiders.replay import ReplaySpider
from spiders.site import SiteSpider

__all__ = ["ArchiveSpider", "ReextractSpider", "ReplaySpider", "SiteSpider"]
