"""Durable spool between the receivers (append, then ack) and the pipeline (read, process, commit)."""

from log_pipeline.spool._file import FileSpool, SpoolClosedError, SpoolError
from log_pipeline.spool._segment import dump

__all__ = ["FileSpool", "SpoolClosedError", "SpoolError", "dump"]
