"""Keep secrets out of logs and error messages.

The vault remembers every secret value it hands out in :data:`KNOWN_SECRETS`.
:func:`redact_secrets` is a structlog processor that replaces them in log events;
:func:`install_log_redaction` adds it to structlog's chain and redacts stdlib log
records as they are created; :func:`scrub_exception` cleans an exception (and its
chain) before it travels on.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 4


class SecretRegistry:
    """The secret values in use in this process (held only to find and mask them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def remember(self, value: str) -> None:
        """Mask ``value`` from now on (values shorter than 4 characters are ignored)."""
        if len(value) >= MIN_SECRET_CHARS and value not in self._values:
            with self._lock:
                self._values = self._values | {value}

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``[REDACTED]``."""
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def leaks(self, text: str) -> bool:
        """Whether ``text`` contains a known secret."""
        return any(value in text for value in self._values)


KNOWN_SECRETS = SecretRegistry()


def redact_value(value: Any, registry: SecretRegistry = KNOWN_SECRETS) -> Any:
    """``value`` with secrets masked: strings, containers, and any object whose repr leaks."""
    if isinstance(value, str):
        return registry.redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item, registry) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item, registry) for item in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    shown = repr(value)
    return registry.redact(shown) if registry.leaks(shown) else value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask known secrets in every value (exceptions rendered first)."""
    exc_info = event_dict.get("exc_info")
    if exc_info:
        rendered = _render_exc_info(exc_info)
        if rendered is not None and KNOWN_SECRETS.leaks(rendered):
            event_dict.pop("exc_info")
            event_dict["exception"] = KNOWN_SECRETS.redact(rendered)
    for key, value in list(event_dict.items()):
        event_dict[key] = redact_value(value)
    return event_dict


def _render_exc_info(exc_info: Any) -> str | None:
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return "".join(traceback.format_exception(exc_info))
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        return "".join(traceback.format_exception(exc_info[1]))
    return None


_installing = threading.Lock()


def install_log_redaction() -> None:
    """Mask secrets in structlog events (before the renderer) and in stdlib log records."""
    processors = list(structlog.get_config()["processors"])
    if redact_secrets not in processors:
        processors.insert(max(len(processors) - 1, 0), redact_secrets)
        structlog.configure(processors=processors)
    with _installing:
        current = logging.getLogRecordFactory()
        if not getattr(current, "redacts_secrets", False):
            logging.setLogRecordFactory(_redacting_factory(current))


def _redacting_factory(inner: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = inner(*args, **kwargs)
        message = record.getMessage()
        if KNOWN_SECRETS.leaks(message):
            record.msg, record.args = KNOWN_SECRETS.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            scrub_exception(record.exc_info[1])
        return record

    factory.redacts_secrets = True  # type: ignore[attr-defined]
    return factory


def scrub_exception(exc: BaseException, registry: SecretRegistry = KNOWN_SECRETS) -> BaseException:
    """Mask secrets in ``exc`` and its chain, in place; if one still shows, a clean stand-in.

    The stand-in is a :class:`SecretRedactedError` naming the original type; raise it
    ``from None`` so the leaking original is not printed with it.
    """
    for link in _chain(exc):
        if registry.leaks(_text(link)):
            link.args = tuple(redact_value(arg, registry) for arg in link.args)
            notes = getattr(link, "__notes__", None)
            if isinstance(notes, list):
                notes[:] = [registry.redact(str(note)) for note in notes]
    if any(registry.leaks(_text(link)) for link in _chain(exc)):
        return SecretRedactedError(f"{type(exc).__name__}: {registry.redact(str(exc))}")
    return exc


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _text(exc: BaseException) -> str:
    try:
        return f"{exc}\n{exc.args!r}\n{getattr(exc, '__notes__', '')!r}"
    except Exception:  # noqa: BLE001 - a broken __str__ is a message we cannot vouch for
        return ""


class SecretRedactedError(RuntimeError):
    """Stands in for an exception whose message showed a secret that could not be masked."""
