"""Structured logs: one JSON object per line on stdout, with the request id and stage timings.

Log collectors (and ``kubectl logs | jq``) read JSON lines without parsing rules.  Records carry
their structured fields in ``extra={"fields": {...}}``; nothing here ever logs image content.
gunicorn's own loggers use the same :class:`JsonFormatter` (see ``gunicorn.conf.py``), so every
line a pod prints is JSON.  Standard library only: gunicorn's master imports this module.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "ocr_server"
REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's id only if it is short and plain, so it cannot forge log lines or headers.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...fields}``; a traceback goes into ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "info") -> logging.Logger:
    """Send the ``ocr_server`` loggers to stdout as JSON lines; idempotent (one handler)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    if not any(getattr(h, "_ocr_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler._ocr_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    logging.captureWarnings(True)  # library warnings become log records, not raw stderr text
    # Pillow logs problems of the files it reads (TIFF tags, EXIF) up to error level: those are the
    # client's files, answered as 4xx already, and a client must not be able to fill our logs.
    logging.getLogger("PIL").setLevel(logging.CRITICAL)
    return logger


def request_id_from(header_value: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a plain token, else a fresh random id."""
    if header_value and _REQUEST_ID_RE.match(header_value):
        return header_value
    return uuid.uuid4().hex
