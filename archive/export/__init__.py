"""Exports for other tools: records as tables (Parquet), a CDXJ index of the WARC files, WACZ packages of a run."""
