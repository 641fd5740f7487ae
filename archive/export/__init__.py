"""Exports for other tools: records as tables (Parquet), a CDXJ index of the WARC files, WACZ packages of a run.

Every export writes its file through `output_file`, so `export`, `index` and `wacz` treat an
output path alike: a regular file appears whole or not at all, anything else is written into.
"""

from archive.errors import OutputFailed
from archive.export._output import output_file

__all__ = ["OutputFailed", "output_file"]
