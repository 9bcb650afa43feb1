"""Exported bundles verify offline; changes to them are found."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from firewall.audit.bundle import BundleSource, parse_line, record_line
from firewall.audit.findings import FindingKind
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_bundle
from firewall.errors import AuditError
from tests.audit.tampering import LAST, MIDDLE, build_log

OpenLog = Callable[..., SqlAuditLog]


@pytest.fixture
def bundle(audit_url: str, open_log: OpenLog, tmp_path: Path) -> Path:
    log = open_log()
    build_log(audit_url, log)
    manifest = log.export(tmp_path / "bundle")
    assert (manifest.records, manifest.checkpoints) == (LAST, 2)
    return tmp_path / "bundle"


def lines(bundle: Path) -> list[str]:
    return (bundle / "records.jsonl").read_text().splitlines(keepends=True)


def test_an_exported_bundle_verifies_without_the_database(bundle: Path, trust: Trust) -> None:
    report = verify_bundle(bundle, trust)
    assert (report.status, report.records_checked, report.signed_through) == ("valid", LAST, LAST)


def test_each_line_is_canonical_json_holding_the_exact_body(bundle: Path) -> None:
    first = lines(bundle)[0]
    _, record_hash, body = parse_line(first)
    assert record_hash is not None
    assert record_line(record_hash, body) == first
    assert json.loads(first)["record"] == json.loads(body)


def test_personal_values_are_not_in_the_bundle(bundle: Path) -> None:
    text = (bundle / "records.jsonl").read_text()
    assert "c-100" not in text
    assert "jane@example.com" not in text


def test_an_edited_line_in_a_bundle_is_found(bundle: Path, trust: Trust) -> None:
    edited = lines(bundle)
    edited[MIDDLE - 1] = edited[MIDDLE - 1].replace('"amount":40', '"amount":4000')
    (bundle / "records.jsonl").write_text("".join(edited))
    report = verify_bundle(bundle, trust)
    assert (report.status, report.first_bad_seq) == ("tampered", MIDDLE)


def test_a_bundle_cut_short_is_a_truncation(bundle: Path, trust: Trust) -> None:
    (bundle / "records.jsonl").write_text("".join(lines(bundle)[:-2]))
    report = verify_bundle(bundle, trust)
    assert (report.status, report.first_bad_seq) == ("tampered", LAST - 1)
    assert report.first_finding is not None
    assert report.first_finding.kind is FindingKind.TRUNCATION


def test_a_directory_that_is_no_bundle_is_inconclusive(tmp_path: Path, trust: Trust) -> None:
    report = verify_bundle(tmp_path, trust)
    assert report.status == "inconclusive"
    assert report.error is not None
    assert "bundle.json" in report.error


def test_exporting_refuses_a_directory_that_is_not_empty(bundle: Path, audit_url: str) -> None:
    with SqlAuditLog(audit_url, create=False) as log, pytest.raises(AuditError, match="not empty"):
        log.export(bundle)


def test_a_bundle_lists_its_checkpoints(bundle: Path) -> None:
    notes = BundleSource(bundle).notes()
    assert [name.split(" ")[1][:12] for name, _ in notes] == ["000000000000", f"{LAST:012d}"]
