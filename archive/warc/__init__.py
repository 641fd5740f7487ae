"""WARC files: writing (one rolling file per run), reading back, recovery after a kill, and saved captures as sources.

Start with `writer.WarcFileWriter` (what a capture becomes on disk), `reader.scan_records`
(every complete record and where it lies) and `sources.find_sources` (what replay reads).
"""
