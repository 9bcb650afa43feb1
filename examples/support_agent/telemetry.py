"""``firewall demo --otel-console``: the gate's OpenTelemetry spans, one line each."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from firewall.errors import MissingDependencyError

if TYPE_CHECKING:
    from firewall.observe.otel import OtelObserver


def console_observer() -> OtelObserver:
    """An observer whose spans are printed to stdout as they end (children first).

    OpenTelemetry is imported only here: the demo runs without the ``[otel]`` extra.
    """
    try:
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError as exc:
        raise MissingDependencyError("opentelemetry-sdk", "otel") from exc
    from firewall.observe.otel import OtelObserver  # noqa: PLC0415 - needs the API too

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
