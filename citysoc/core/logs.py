"""Logging set-up, called once per entry point."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with ECS-style keys, for production log shipping."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["error.stack_trace"] = self.formatException(record.exc_info)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        return json.dumps(doc, default=str)


def current_logging() -> tuple[str, LogFormat]:
    """The level and format :func:`configure_logging` set up, for a child process to match."""
    root = logging.getLogger()
    json_handler = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return logging.getLevelName(root.level), "json" if json_handler else "text"


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Route every logger to stderr, as text for people or JSON for machines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("scapy.runtime", "scapy.loading", "uvicorn.access", "communityid"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
