"""Scrapy settings for the scraper-archive project. Declarative only; our own keys start ARCHIVE_/REPLAY_."""

BOT_NAME = "scraper-archive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- Identity and politeness (live crawls) -------------------------------------------------
# The CLI builds USER_AGENT from --contact / ARCHIVE_CONTACT_URL: "scraper-archive/VERSION (+URL)".
USER_AGENT = "scraper-archive (+https://example.invalid/contact; set ARCHIVE_CONTACT_URL)"
ARCHIVE_CONTACT_URL = None
ROBOTSTXT_OBEY = True  # Crawl-delay too (archive.crawl.middlewares.CrawlDelayExtension)
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1
AUTOTHROTTLE_ENABLED = True
DOWNLOAD_TIMEOUT = 30  # seconds for the whole exchange: connect, send, read
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024  # a larger body is archived up to it (WARC-Truncated: length) and reported
# A response head past either limit is refused (the exchange fails, nothing archived of it), as
# browsers refuse one (Chromium at 256 KiB); a record keeps at most as much of any response's headers.
ARCHIVE_MAX_HEADER_FIELDS = 256
ARCHIVE_MAX_HEADER_BYTES = 256 * 1024
RETRY_TIMES = 3
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"  # not ERROR: the run's summary names each request given up on (failed: URL)
RETRY_BACKOFF_BASE = 1.0  # seconds; doubles per retry, jittered, capped by RETRY_BACKOFF_MAX
RETRY_BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 120.0  # a server asking to wait longer than this is taken as a refusal
REDIRECT_MAX_TIMES = 10  # a longer chain (or a loop) fails with a clear reason
# Scrapy runs each response's output through CONCURRENT_ITEMS asyncio tasks (default 100). Ours
# is one item and its links, handled by a synchronous pipeline: 100 tasks a response bought nothing
# and, with thousands of responses waiting to be scraped in a replay, held hundreds of MB at peak.
CONCURRENT_ITEMS = 4
ARCHIVE_PARSE_THREADS = 2  # threads reading links, sitemaps and feeds, off the reactor so downloads keep their clock
ARCHIVE_LINKS_PER_PAGE = 10_000  # links a page gives the crawl, in document order; the rest are counted
ARCHIVE_SITEMAPS_AHEAD = 2  # child sitemaps of an index asked for at once; each read asks for the next
ARCHIVE_SITEMAP_BATCH = 500  # a sitemap's pages queued at a time, more as the queue runs low

# --- Network boundary (archive.crawl.netguard) -------------------------------------------
# Crawls reach public addresses only: a name resolving to a private, loopback or link-local
# address, a redirect to one, or a URL naming one is refused unless listed here (CIDRs).
TWISTED_DNS_RESOLVER = "archive.crawl.netguard.GuardedResolver"
ARCHIVE_ALLOW_NETWORKS: list[str] = []
# Request records keep the names of Proxy-Authorization, Authorization and Cookie headers and
# replace their values with [redacted]; True records the values as sent.
ARCHIVE_RECORD_CREDENTIALS = False

# --- Components, by dotted path and order -------------------------------------------------
ITEM_PIPELINES = {
    "archive.crawl.pipeline.ArchivePipeline": 500,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "archive.crawl.politeness.SharedRobotsTxtMiddleware": 100,  # Scrapy's, shared by a frontier's workers
    "archive.crawl.middlewares.ResumeMiddleware": 60,
    "archive.crawl.middlewares.ConditionalRequestMiddleware": 120,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "archive.crawl.middlewares.PoliteRetryMiddleware": 550,
    "archive.crawl.netguard.PrivateAddressMiddleware": 560,  # after retries on the way back: a refusal is final
    "archive.crawl.politeness.PolitenessGateMiddleware": 590,  # a frontier's per-host timetable (off otherwise)
    "archive.crawl.middlewares.WireMiddleware": 950,
}
# http and https through Scrapy's HTTP/1.1 handler, recording each exchange's bytes as they crossed
# the connection (request and response heads exactly, the body before transfer decoding), and
# keeping a body past DOWNLOAD_MAXSIZE up to it (archived with WARC-Truncated: length).
DOWNLOAD_HANDLERS = {
    "http": "archive.crawl.wire.WireDownloadHandler",
    "https": "archive.crawl.wire.WireDownloadHandler",
}
EXTENSIONS = {
    "archive.crawl.middlewares.CrawlDelayExtension": 10,
    "archive.crawl.heartbeat.FrontierExtension": 20,  # a frontier worker's heartbeat and acks (off otherwise)
    "archive.crawl.progress.ProgressExtension": 500,
    "scrapy.extensions.telnet.TelnetConsole": None,
}

# --- Archive ------------------------------------------------------------------------------
ARCHIVE_DATA_DIR = "data"  # WARC files in data/warc, the SQLite catalog in data/catalog.sqlite
ARCHIVE_DB_URL = None  # any SQLAlchemy URL; None means SQLite in ARCHIVE_DATA_DIR
ARCHIVE_RUN_HEARTBEAT = 60  # seconds between a run's signs of life in the catalog (a silent run is found dead)
ARCHIVE_WARC_PREFIX = "scraper"
ARCHIVE_WARC_MAX_SIZE = 1024 * 1024 * 1024  # roll over to a new WARC file past this size
ARCHIVE_COMMIT_EVERY = 50  # catalog rows per commit (after an fsync of the WARC file)
ARCHIVE_OPERATOR = None  # written into every warcinfo record
ARCHIVE_WARCINFO: dict[str, str] = {}  # extra warcinfo fields, e.g. {"description": "..."}
ARCHIVE_SITE_EVIDENCE = "text"  # off | text | all: drop lines a site repeats on 2+ other archived pages
ARCHIVE_PROGRESS = False  # the CLI turns this on when stderr is a terminal
ARCHIVE_JOBS = 0  # extraction processes, replay and crawl (archive.crawl.workers); 0: one per core, 1: in-process
ARCHIVE_COMMENTS = False  # keep reader comments in the main text (HTML and text captures); --comments

# --- Shared frontier: many workers, one crawl (archive.frontier, archive.crawl.scheduler) ---
# `scraper crawl --frontier redis://HOST:PORT/DB` sets ARCHIVE_FRONTIER_URL and the scheduler
# (archive.crawl.scheduler.FrontierScheduler); the components above switch themselves on.
ARCHIVE_FRONTIER_URL = None  # Redis URL of the shared frontier; None: this process crawls alone
ARCHIVE_FRONTIER_NAME = "scraper"  # prefix of its keys: several frontiers can share one database
ARCHIVE_WORKER_ID = None  # beside the host in WARC file names and the frontier; None: the pid
ARCHIVE_FRONTIER_HEARTBEAT = 5.0  # seconds between a worker's beats (and commits)
ARCHIVE_FRONTIER_WORKER_TTL = 30.0  # a worker silent this long is dead: what it held goes back
ARCHIVE_FRONTIER_UNTIL_IDLE = False  # stop once no run is queued or leased (else wait for work)
ARCHIVE_FRONTIER_POLL = 0.25  # seconds between looks for work while idle
ARCHIVE_FRONTIER_ROBOTS_TTL = 3600.0  # a robots.txt one worker fetched serves all this long
ARCHIVE_FRONTIER_DELAY = None  # a worker's floor for the per-host delay across workers (its --delay)
# Between requests to one host, across workers: the crawl's --delay, else DOWNLOAD_DELAY; set by the CLI.
ARCHIVE_FRONTIER_DEFAULT_DELAY = 1.0

# --- Replay -------------------------------------------------------------------------------
REPLAY_MAX_CAPTURE_BYTES = 64 * 1024 * 1024  # a larger capture fails with a clear message
ARCHIVE_ABSOLUTE_PATHS = False  # saved files named by absolute paths (default: relative to the folder given)

# --- Scrapy housekeeping ------------------------------------------------------------------
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
