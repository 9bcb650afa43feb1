"""OpenTelemetry spans for the gate (extra ``[otel]``; the API only, never the SDK).

Pass ``OtelObserver()`` to ``build_firewall(..., observer=...)``; spans go to whatever
tracer provider the application configured (the library configures none).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode, TracerProvider

from firewall.observe import AttributeValue, Span

INSTRUMENTATION = "agent-firewall"


class _OtelSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None:
            self._span.set_attribute(f"firewall.{key}", value)


class OtelObserver:
    """Each gate span as an OpenTelemetry span, nested as the gate nests them."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(INSTRUMENTATION, tracer_provider=tracer_provider)

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
        return self._span(name, attributes)

    @contextmanager
    def _span(self, name: str, attributes: dict[str, AttributeValue]) -> Iterator[Span]:
        named = {f"firewall.{key}": value for key, value in attributes.items()}
        with self._tracer.start_as_current_span(name, attributes=named) as span:
            try:
                yield _OtelSpan(span)
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
