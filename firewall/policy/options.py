"""Options in engine URLs (``?key=value``), each checked with a ConfigError naming it."""

from __future__ import annotations

from urllib.parse import parse_qsl

from firewall.errors import ConfigError

KEY = "policy.engine"


def query_options(query: str, allowed: set[str]) -> dict[str, str]:
    """``key=value`` options of an engine URL; unknown keys are a ConfigError."""
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ConfigError(KEY, f"unknown option(s) {', '.join(unknown)}; known: {known}")
    return options


def as_float(name: str, text: str) -> float:
    """A non-negative number option."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(KEY, f"option {name} must be a non-negative number, got {text!r}")
    return value


def as_int(name: str, text: str) -> int:
    """A non-negative integer option."""
    if not text.isdigit():
        raise ConfigError(KEY, f"option {name} must be a non-negative integer, got {text!r}")
    return int(text)


def as_bool(name: str, text: str) -> bool:
    """A true/false option."""
    lowered = text.lower()
    if lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise ConfigError(KEY, f"option {name} must be true or false, got {text!r}")
    return lowered in {"true", "1", "yes"}
