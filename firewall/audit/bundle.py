"""A self-contained export of the log that verifies offline, with no database.

::

    DIR/bundle.json               what the bundle holds (informative, not trusted)
    DIR/records.jsonl             one record per line: {"hash":"sha256:<hex>","record":<body>}
    DIR/checkpoints/*.checkpoint  every stored checkpoint and the signed head

Each line embeds the record's exact body, so the verifier hashes the bytes the writer
hashed. Personal values are not exported: only their references are in the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from firewall.audit.checkpoints import parse_checkpoint
from firewall.audit.mirror import checkpoint_file_name, write_atomically
from firewall.audit.reading import AuditSnapshot
from firewall.errors import AuditError
from firewall.types import Frozen

BUNDLE_FORMAT = "agent-firewall-audit-bundle/1"
LINE_PREFIX = '{"hash":"'
HASH_LENGTH = len("sha256:") + 64
RECORD_KEY = '","record":'
RawRow = tuple[int | None, str | None, str]


class BundleManifest(Frozen):
    """``bundle.json``."""

    format: str = BUNDLE_FORMAT
    origin: str
    log_id: str
    records: int
    head: str | None
    checkpoints: int
    exported_at: str


def record_line(record_hash: str, body: str) -> str:
    """One line of ``records.jsonl`` (canonical JSON itself: keys sorted, no spaces)."""
    return f"{LINE_PREFIX}{record_hash}{RECORD_KEY}{body}}}\n"


def parse_line(line: str) -> RawRow:
    """``(None, hash, body)`` of one line; ``(None, None, line)`` if it is not framed."""
    line = line.rstrip("\n")
    start = len(LINE_PREFIX) + HASH_LENGTH
    framed = (
        line.startswith(LINE_PREFIX)
        and line[start : start + len(RECORD_KEY)] == RECORD_KEY
        and line.endswith("}")
    )
    if not framed:
        return None, None, line
    return None, line[len(LINE_PREFIX) : start], line[start + len(RECORD_KEY) : -1]


def export_bundle(view: AuditSnapshot, out_dir: Path, now: str) -> BundleManifest:
    """Write the log seen by ``view`` to ``out_dir`` (which must be empty or new)."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise AuditError(f"{out_dir} is not empty; export into a new directory")
    checkpoint_dir = out_dir / "checkpoints"
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    meta = view.meta()
    notes = [note for _, note in view.checkpoint_notes()]
    head_note = view.head_note()
    notes += [head_note] if head_note else []
    names = {checkpoint_file_name(note): note for note in notes}
    for name, note in names.items():
        (checkpoint_dir / name).write_text(note, encoding="utf-8")
    count, last_hash = 0, None
    with (out_dir / "records.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for row in view.rows():
            handle.write(record_line(row.hash, row.body))
            count, last_hash = count + 1, row.hash
    manifest = BundleManifest(
        origin=meta["origin"],
        log_id=meta["log_id"],
        records=count,
        head=last_hash,
        checkpoints=len(names),
        exported_at=now,
    )
    write_atomically(out_dir / "bundle.json", manifest.model_dump_json(indent=2) + "\n")
    return manifest


class BundleSource:
    """Reads an exported bundle for the verifier and the proof builder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        manifest_path = directory / "bundle.json"
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuditError(f"{manifest_path} is missing or unreadable: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
            raise AuditError(f"{directory} is not an audit bundle ({BUNDLE_FORMAT})")
        self.origin: str | None = data.get("origin")

    def notes(self) -> list[tuple[str, str]]:
        """Every checkpoint file: ``(file name, note text)``."""
        paths = sorted((self.directory / "checkpoints").glob("*.checkpoint"))
        return [(f"checkpoint {path.name}", path.read_text(encoding="utf-8")) for path in paths]

    def rows(self) -> Iterator[RawRow]:
        """The records, one raw row per line."""
        path = self.directory / "records.jsonl"
        try:
            with path.open(encoding="utf-8", newline="\n") as handle:
                for line in handle:
                    yield parse_line(line)
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(f"cannot read {path}: {exc}") from exc

    def head_row(self) -> None:
        """Bundles have no head row: only signed checkpoints say where the log ends."""
        return

    def checked_rows(self) -> Iterator[tuple[int | None, str | None, str, None]]:
        """The records; a bundle has no lookup columns to check."""
        for row_seq, record_hash, body in self.rows():
            yield row_seq, record_hash, body, None

    def check_tables(self, chain: object, findings: object) -> None:
        """A bundle holds only the chain and its checkpoints: nothing beside them."""
        return


def latest_note(notes: list[tuple[str, str]]) -> str:
    """The checkpoint with the largest size (newest time on a tie)."""
    parsed = []
    for _, note in notes:
        try:
            parsed.append((parse_checkpoint(note), note))
        except AuditError:
            continue
    if not parsed:
        raise AuditError("no readable checkpoint")
    return max(parsed, key=lambda item: (item[0].checkpoint.size, item[0].claimed_time or ""))[1]
