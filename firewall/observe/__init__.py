"""Watching the gate work: spans and metrics, never argument values.

The gate opens a span for each guarded call (``firewall.call``), its decision
(``firewall.decide``), each stage (``firewall.stage``), each audit append
(``firewall.audit.append``) and each wait for an approver (``firewall.approval.wait``), and
sets attributes on them as it learns them: ``tool``, ``stage``, ``outcome``, ``code``,
``hold_id``, ``policy_revision``. Nothing else: no argument, output or reason, which may
carry personal data. An :class:`Observer` turns them into OpenTelemetry spans
(:mod:`firewall.observe.otel`), Prometheus metrics (:mod:`firewall.observe.prometheus`)
or both (:class:`Observers`). Without one, the gate pays for a shared no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import TracebackType
from typing import Protocol

AttributeValue = str | int | float | bool

CALL = "firewall.call"
DECIDE = "firewall.decide"
STAGE = "firewall.stage"
AUDIT_APPEND = "firewall.audit.append"
APPROVAL_WAIT = "firewall.approval.wait"


class Span(Protocol):
    """An open span; attributes set with ``None`` are left out."""

    def set(self, key: str, value: AttributeValue | None) -> None: ...


class Observer(Protocol):
    """Opens spans around the gate's work."""

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]: ...


class _NoSpan:
    """Shared by every span of :class:`NullObserver`: holds nothing, costs nothing."""

    def set(self, key: str, value: AttributeValue | None) -> None:
        return None

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None


_NO_SPAN = _NoSpan()


class NullObserver:
    """The default: observes nothing."""

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
        return _NO_SPAN


class _Spans:
    def __init__(self, spans: list[Span]) -> None:
        self._spans = spans

    def set(self, key: str, value: AttributeValue | None) -> None:
        for span in self._spans:
            span.set(key, value)


class Observers:
    """Several observers at once (traces and metrics)."""

    def __init__(self, *observers: Observer) -> None:
        self._observers = observers

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
        return self._all(name, attributes)

    @contextmanager
    def _all(self, name: str, attributes: dict[str, AttributeValue]) -> Iterator[Span]:
        with ExitStack() as stack:
            yield _Spans([stack.enter_context(o.span(name, **attributes)) for o in self._observers])
