"""What every fault test ends with: ``firewall audit verify`` on the log, and its records.

``verify`` runs the real CLI command in-process (exit status, JSON report and the text an
operator reads); ``records_by_call`` lists each call's records as short tuples, so a test
states exactly which records a call must have, no more and no fewer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from firewall.audit.records import AuditRecord
from firewall.audit.store import SqlAuditLog
from firewall.cli.audit import app

WIDE = {"COLUMNS": "250"}
Entry = tuple[str, str | None, str | None]
"""One record of a call: (event, outcome, code)."""

ALLOWED_AND_RAN: list[Entry] = [("decision", "allow", None), ("outcome", "ok", None)]
ALLOWED_ONLY: list[Entry] = [("decision", "allow", None)]


@dataclass(frozen=True)
class Verdict:
    """The outcome of ``firewall audit verify``."""

    exit_code: int
    report: dict[str, Any]
    text: str

    @property
    def in_doubt(self) -> list[str]:
        """Call ids the verifier lists as allowed with no outcome, in chain order."""
        return [call["call_id"] for call in self.report["in_doubt"]]

    @property
    def records_checked(self) -> int:
        """How many records the verifier read."""
        return int(self.report["records_checked"])


def verify(url: str, public_key: Path) -> Verdict:
    """Run ``firewall audit verify --db URL --public-key KEY`` (JSON and text)."""
    runner = CliRunner()
    base = ["verify", "--db", url, "--public-key", str(public_key)]
    as_json = runner.invoke(app, [*base, "--json"], env=WIDE)
    as_text = runner.invoke(app, base, env=WIDE)
    assert as_json.exit_code == as_text.exit_code, (as_json.stdout, as_text.stdout)
    return Verdict(as_json.exit_code, json.loads(as_json.stdout), as_text.stdout)


def assert_verified(url: str, public_key: Path) -> Verdict:
    """Verify the log and require exit status 0 (valid)."""
    verdict = verify(url, public_key)
    assert verdict.exit_code == 0, verdict.text
    assert verdict.report["status"] == "valid"
    return verdict


def records_by_call(url: str) -> dict[str, list[Entry]]:
    """Every call's records, in chain order, as (event, outcome, code)."""
    calls: dict[str, list[Entry]] = {}
    with SqlAuditLog(url, create=False) as log:
        for record in log.records():
            if record.call_id is not None:
                entry = (record.event, record.outcome, record.code)
                calls.setdefault(record.call_id, []).append(entry)
    return calls


def records_of(url: str, call_id: str) -> list[AuditRecord]:
    """The full records of one call, in chain order."""
    with SqlAuditLog(url, create=False) as log:
        return log.records_for_call(call_id)
