"""How the command-line programs log: readable lines, or one JSON object per line.

Only programs configure logging (``firewall serve --log-format json``); library code never
does. structlog events and stdlib records (uvicorn, slack-bolt) go through the same
processors, secrets masked, to stderr.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Any

import structlog
from structlog.typing import Processor

from firewall.credentials.redaction import install_log_redaction, redact_secrets


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when configured."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        return None


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


class LogFormat(StrEnum):
    """``console``: for people; ``json``: for log collectors."""

    CONSOLE = "console"
    JSON = "json"


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Send every log event to stderr in ``log_format``, secrets masked."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    exceptions = [structlog.processors.format_exc_info] if log_format is LogFormat.JSON else []
    structlog.configure(
        processors=[*shared, *exceptions, renderer],
        logger_factory=_stderr_logger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared, *exceptions],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_log_redaction()
