"""Secrets are masked in structlog events, stdlib log records and exceptions."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from firewall.credentials.redaction import (
    KNOWN_SECRETS,
    REDACTED,
    SecretRedactedError,
    SecretRegistry,
    install_log_redaction,
    redact_secrets,
    redact_value,
    scrub_exception,
)

SECRET = "pk_live_redaction_5e2b"


@pytest.fixture(autouse=True)
def known_secret() -> Iterator[None]:
    """Plant the secret; put back the logging configuration each test may change."""
    KNOWN_SECRETS.remember(SECRET)
    processors, factory = list(structlog.get_config()["processors"]), logging.getLogRecordFactory()
    yield
    structlog.configure(processors=processors)
    logging.setLogRecordFactory(factory)


def test_registry_masks_every_known_value_and_ignores_tiny_ones() -> None:
    registry = SecretRegistry()
    registry.remember("abc")
    registry.remember("token-123")
    assert registry.redact("abc token-123") == f"abc {REDACTED}"
    assert registry.leaks("x token-123 y")
    assert not registry.leaks("abc")


def test_values_in_containers_and_reprs_are_masked() -> None:
    class Holder:
        def __repr__(self) -> str:
            return f"Holder({SECRET})"

    value = {"a": [SECRET, ("x", f"Bearer {SECRET}")], "n": 3, "o": Holder()}
    masked = redact_value(value)
    assert masked == {
        "a": [REDACTED, ("x", f"Bearer {REDACTED}")],
        "n": 3,
        "o": f"Holder({REDACTED})",
    }


def test_structlog_processor_masks_event_values() -> None:
    with capture_logs(processors=[redact_secrets]) as logs:
        structlog.get_logger("t").info("calling crm", header=f"Bearer {SECRET}", event_id=7)
    assert logs[0]["header"] == f"Bearer {REDACTED}"
    assert SECRET not in str(logs)


def _fail_with_secret() -> None:
    raise ValueError(f"bad token {SECRET}")


def _fail_with_chained_secret() -> None:
    try:
        raise KeyError(f"token {SECRET}")  # noqa: TRY301 - builds the chain
    except KeyError as inner:
        outer = RuntimeError("request failed", SECRET)
        outer.add_note(f"header: {SECRET}")
        raise outer from inner


def test_structlog_processor_renders_and_masks_leaking_exceptions() -> None:
    try:
        _fail_with_secret()
    except ValueError:
        with capture_logs(processors=[redact_secrets]) as logs:
            structlog.get_logger("t").exception("tool failed")
    assert "exc_info" not in logs[0]
    assert "ValueError: bad token [REDACTED]" in logs[0]["exception"]
    assert SECRET not in str(logs)


def test_installed_redaction_masks_stdlib_records(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("tool").info("auth with %s", SECRET)
    assert caplog.records[-1].getMessage() == f"auth with {REDACTED}"
    assert SECRET not in caplog.text


def test_installed_redaction_runs_before_structlog_renders() -> None:
    install_log_redaction()
    processors = structlog.get_config()["processors"]
    assert redact_secrets in processors
    assert processors.index(redact_secrets) == len(processors) - 2


def test_scrubbing_masks_args_notes_and_the_chain_in_place() -> None:
    try:
        _fail_with_chained_secret()
    except RuntimeError as exc:
        raised, clean = exc, scrub_exception(exc)
    assert clean is raised
    assert clean.args == ("request failed", REDACTED)
    assert SECRET not in "".join(traceback.format_exception(clean))


def test_an_exception_that_cannot_be_masked_gets_a_clean_stand_in() -> None:
    class StubbornError(Exception):
        def __str__(self) -> str:
            return f"always shows {SECRET}"

    clean = scrub_exception(StubbornError())
    assert isinstance(clean, SecretRedactedError)
    assert str(clean) == f"StubbornError: always shows {REDACTED}"


def test_clean_exceptions_pass_through_untouched() -> None:
    error = ValueError("nothing to see")
    assert scrub_exception(error) is error
    assert error.args == ("nothing to see",)
