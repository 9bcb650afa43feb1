"""regopy behind a few small functions: compile a bundle, set input, query an entrypoint.

rego-cpp reports errors as s-expressions with byte offsets; :func:`describe_rego_error`
turns them into ``file:line:col: message`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import regopy
from regopy import LogLevel

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.policy.files import RegoModule

_ERROR_HEADER = re.compile(rb"\(error(?=[\s)])")
_LOCATION = re.compile(rb"\s*(\d+):")
_SPAN = re.compile(rb"\|(\d+)\|(\d+)")
_MESSAGE = re.compile(rb"\(errormsg (\d+):")


def new_interpreter() -> regopy.Interpreter:
    """An interpreter that does not log to stderr (errors come back as exceptions)."""
    interpreter = regopy.Interpreter()
    interpreter.log_level = LogLevel.NONE
    return interpreter


def compile_bundle(modules: Sequence[RegoModule], entrypoints: Sequence[str]) -> regopy.Bundle:
    """Compile ``modules`` once into a bundle that can evaluate ``entrypoints``."""
    sources = {module.name: module.source for module in modules}
    interpreter = new_interpreter()
    try:
        for module in modules:
            interpreter.add_module(module.name, module.source)
        bundle = interpreter.build(None, list(entrypoints))
    except regopy.RegoError as exc:
        detail = describe_rego_error(str(exc), sources)
        raise PolicyError(f"policy does not compile: {detail}") from exc
    if not bundle.ok():
        raise PolicyError("policy does not compile: rego-cpp produced no bundle")
    return bundle


def query(interpreter: regopy.Interpreter, bundle: regopy.Bundle, entrypoint: str) -> Any:
    """The value at ``entrypoint`` for the interpreter's input, or ``UNDEFINED``."""
    try:
        output = interpreter.query_bundle_entrypoint(bundle, entrypoint)
    except regopy.RegoError as exc:
        raise PolicyError(f"policy evaluation failed: {describe_rego_error(str(exc))}") from exc
    if not output.ok():
        node = output.node()
        details = [describe_rego_error(node.at(i).json()) for i in range(len(node))]
        raise PolicyError(f"policy evaluation failed: {'; '.join(details) or 'unknown error'}")
    if not output.results or not output.results[0].expressions:
        return UNDEFINED
    return output.results[0].expressions[0]


def describe_rego_error(text: str, sources: Mapping[str, str] | None = None) -> str:
    """``file:line:col: message`` for each error in a rego-cpp error s-expression."""
    raw = text.encode("utf-8")
    starts = [match.end() for match in _ERROR_HEADER.finditer(raw)]
    chunks = [raw[start:end] for start, end in pairwise([*starts, len(raw)])]
    messages = _unique(_describe_chunk(chunk, sources or {}) for chunk in chunks)
    if not messages:
        return text.strip().splitlines()[0][:300] if text.strip() else "unknown error"
    return "; ".join(messages)


def _describe_chunk(chunk: bytes, sources: Mapping[str, str]) -> str:
    message_match = _MESSAGE.search(chunk)
    if message_match is None:
        return ""
    start = message_match.end()
    message = chunk[start : start + int(message_match.group(1))].decode("utf-8", "replace")
    location = _location(chunk[: message_match.start()], sources)
    return f"{location}: {message}" if location else message


def _location(header: bytes, sources: Mapping[str, str]) -> str:
    match = _LOCATION.match(header)
    if match is None:
        return ""
    name_start = match.end()
    name = header[name_start : name_start + int(match.group(1))].decode("utf-8", "replace")
    span = _SPAN.match(header, name_start + int(match.group(1)))
    if span is None or name not in sources:
        return name
    before = sources[name].encode("utf-8")[: int(span.group(1))]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return f"{name}:{line}:{column}"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))
