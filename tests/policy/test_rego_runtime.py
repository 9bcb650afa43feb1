"""regopy errors become PolicyErrors with ``file:line:col: message``."""

from __future__ import annotations

import pytest

from firewall.errors import PolicyError
from firewall.policy.document import UNDEFINED
from firewall.policy.files import RegoModule
from firewall.policy.rego_runtime import (
    compile_bundle,
    describe_rego_error,
    new_interpreter,
    query,
)


def test_syntax_error_is_located_by_line_and_column() -> None:
    source = "package p\n\nimport rego.v1\n\nx := {\n"
    with pytest.raises(PolicyError) as caught:
        compile_bundle([RegoModule("dir/p.rego", source)], ["p/x"])
    assert "dir/p.rego:5:" in str(caught.value)
    assert "(rego-errorseq" not in str(caught.value)


def test_error_text_with_multibyte_source_counts_bytes() -> None:
    source = "package p\n# é\nx := {\n"
    text = "(rego-errorseq\n  (error 3:p.r|17|2\n    (errormsg 10:unclosed {)))"
    assert describe_rego_error(text, {"p.r": source}) == "p.r:3:3: unclosed {"


def test_duplicate_messages_are_reported_once() -> None:
    text = "(error 1:a|0|1 (errormsg 3:bad)) (error 1:a|0|1 (errormsg 3:bad))"
    assert describe_rego_error(text, {"a": "x"}) == "a:1:1: bad"


def test_unparseable_error_text_falls_back_to_its_first_line() -> None:
    assert describe_rego_error("something odd\nmore") == "something odd"
    assert describe_rego_error("") == "unknown error"


def test_undefined_entrypoint_is_undefined() -> None:
    bundle = compile_bundle(
        [RegoModule("p.rego", "package p\nimport rego.v1\nx if input.a\n")], ["p/x"]
    )
    assert query(new_interpreter(), bundle, "p/x") is UNDEFINED


def test_runtime_conflict_names_regos_message() -> None:
    source = "package p\nimport rego.v1\nx := 1 if input.a\nx := 2 if input.a\n"
    bundle = compile_bundle([RegoModule("p.rego", source)], ["p/x"])
    interpreter = new_interpreter()
    interpreter.set_input({"a": True})
    with pytest.raises(PolicyError, match="complete rules must not produce multiple outputs"):
        query(interpreter, bundle, "p/x")
