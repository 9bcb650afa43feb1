"""Which files make the policy, and the revision that names them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firewall.canonical import digest
from firewall.errors import ConfigError, PolicyError
from firewall.policy.files import (
    policy_paths,
    read_policy,
    rego_test_paths,
    require_dir,
    revision,
    signature,
)


def test_policy_files_exclude_tests_and_are_sorted(shipped_policies: Path) -> None:
    names = [path.name for path in policy_paths(shipped_policies)]
    assert names == sorted(names)
    assert "decision.rego" in names
    assert not [name for name in names if name.endswith("_test.rego")]


def test_test_files_are_only_the_test_files(shipped_policies: Path) -> None:
    names = [path.name for path in rego_test_paths(shipped_policies)]
    assert names
    assert all(name.endswith("_test.rego") for name in names)


def test_revision_is_sha256_over_relative_paths_and_contents(tmp_path: Path) -> None:
    (tmp_path / "b.rego").write_text("package b\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.rego").write_text("package a\n", encoding="utf-8")
    expected = digest([["b.rego", "package b\n"], ["sub/a.rego", "package a\n"]])
    assert revision(read_policy(tmp_path)) == expected
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", expected)


def test_revision_changes_when_a_policy_file_changes(policy_copy: Path) -> None:
    before = revision(read_policy(policy_copy))
    settings = policy_copy / "settings.rego"
    settings.write_text(settings.read_text() + "\n# edited\n", encoding="utf-8")
    assert revision(read_policy(policy_copy)) != before


def test_revision_changes_when_a_file_is_renamed(policy_copy: Path) -> None:
    before = revision(read_policy(policy_copy))
    (policy_copy / "settings.rego").rename(policy_copy / "thresholds.rego")
    assert revision(read_policy(policy_copy)) != before


def test_revision_ignores_test_files(policy_copy: Path) -> None:
    before = revision(read_policy(policy_copy))
    (policy_copy / "extra_test.rego").write_text("package x_test\n", encoding="utf-8")
    for test_file in rego_test_paths(policy_copy):
        test_file.write_text(test_file.read_text() + "\n# edited\n", encoding="utf-8")
    assert revision(read_policy(policy_copy)) == before


def test_signature_changes_on_edit_and_on_new_file(policy_copy: Path) -> None:
    before = signature(policy_copy)
    (policy_copy / "new.rego").write_text("package new\n", encoding="utf-8")
    after_add = signature(policy_copy)
    assert after_add != before
    (policy_copy / "new.rego").write_text("package new_longer\n", encoding="utf-8")
    assert signature(policy_copy) != after_add


def test_directory_without_policy_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "only_test.rego").write_text("package t\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="no policy files"):
        read_policy(tmp_path)


def test_non_utf8_policy_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_bytes(b"package \xff\n")
    with pytest.raises(PolicyError, match=r"cannot read policy file bad\.rego"):
        read_policy(tmp_path)


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        require_dir(tmp_path / "nope")
    assert caught.value.key == "policy.dir"
