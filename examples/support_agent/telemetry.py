"""``firewall demo --otel-console``: the gate's OpenTelemetry spans, one line each."""

from __future__ import annotations

import sys

from firewall.errors import MissingDependencyError
from firewall.observe.otel import OtelObserver


def console_observer() -> OtelObserver:
    """An observer whose spans are printed to stdout as they end (children first)."""
    try:
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError as exc:
        raise MissingDependencyError("opentelemetry-sdk", "otel") from exc

    def one_line(span: ReadableSpan) -> str:
        took_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        attributes = " ".join(
            f"{key.removeprefix('firewall.')}={value if isinstance(value, str) else repr(value)}"
            for key, value in (span.attributes or {}).items()
        )
        return f"  span {span.name:<24} {took_ms:8.2f} ms  {attributes}\n"

    provider = TracerProvider()
    exporter = ConsoleSpanExporter(out=sys.stdout, formatter=one_line)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelObserver(provider)
