"""`python -m archive.cli`: the `scraper` command."""

from archive.cli import main

raise SystemExit(main())
