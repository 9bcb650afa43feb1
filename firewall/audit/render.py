"""Text output of the audit commands: verify reports, records, proof verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from firewall.audit.findings import VerifyReport
from firewall.audit.records import AuditRecord
from firewall.audit.vault import REFERENCE_PATTERN, parse_reference

STATUS_STYLES = {"valid": "bold green", "tampered": "bold red", "inconclusive": "bold yellow"}


def print_report(report: VerifyReport, console: Console) -> None:
    """The verdict, the range checked, every finding, and the in-doubt calls."""
    console.print(report.summary(), style=STATUS_STYLES[report.status])
    if report.records_checked:
        console.print(
            f"  checked seq {report.first_seq}..{report.last_seq} of {report.origin}; "
            f"{report.checkpoints_checked} checkpoint(s) verified, signed through seq "
            f"{report.signed_through}; keys: {', '.join(report.trusted_keys) or 'none'}"
        )
    if report.witnessed_through is not None:
        console.print(f"  cosigned by your witness quorum through seq {report.witnessed_through}")
    for finding in report.findings:
        shown = f"  seq {finding.seq}: {finding.kind.value}: {finding.message}"
        if finding.severity != "info":
            shown += f" (expected {finding.expected}, found {finding.found})"
        console.print(shown)
    hidden = report.findings_total - len(report.findings)
    if hidden:
        console.print(f"  ... and {hidden} more findings")
    if report.erased_subjects:
        console.print(f"Erased subjects: {report.erased_subjects} (not tampering)")
    if report.in_doubt:
        console.print("In doubt (allowed, no outcome recorded):", style="yellow")
    for call in report.in_doubt:
        console.print(f"  {call.call_id} (tool {call.tool}, decision at seq {call.seq})")


def reveal_references(value: Any, reveal: Callable[[str], tuple[bool, Any]]) -> Any:
    """``value`` with every personal-data reference opened (or marked ``[erased]``)."""
    if isinstance(value, dict):
        return {key: reveal_references(item, reveal) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [reveal_references(item, reveal) for item in value]
    if parse_reference(value) is not None:
        readable, opened = reveal(str(value))
        return opened if readable else "[erased]"
    if isinstance(value, str):  # references quoted inside free text, e.g. a policy reason
        return REFERENCE_PATTERN.sub(lambda match: _opened_text(match.group(0), reveal), value)
    return value


def _opened_text(reference: str, reveal: Callable[[str], tuple[bool, Any]]) -> str:
    readable, opened = reveal(reference)
    return str(opened) if readable else "[erased]"


def render_records(records: Sequence[AuditRecord]) -> Table:
    """The records as a rich table."""
    table = Table()
    for header in ("seq", "time", "event", "call id", "tool", "outcome", "code", "reasons"):
        table.add_column(header, overflow="fold")
    for record in records:
        table.add_row(
            str(record.seq),
            record.time,
            record.event,
            record.call_id or "",
            record.tool or "",
            record.outcome or "",
            record.code or "",
            "; ".join(record.reasons),
        )
    return table
