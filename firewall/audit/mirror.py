"""Copying checkpoints to a directory the database operator cannot rewrite."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from firewall.audit.checkpoints import parse_checkpoint
from firewall.errors import AuditError

LATEST = "latest.checkpoint"


def checkpoint_file_name(note: str) -> str:
    """``<size, 12 digits>-<UTC time, compact>.checkpoint``: sorts by size, then time."""
    parsed = parse_checkpoint(note)
    moment = datetime.fromisoformat(parsed.claimed_time or "1970-01-01T00:00:00+00:00")
    return f"{parsed.checkpoint.size:012d}-{moment:%Y%m%dT%H%M%S%fZ}.checkpoint"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, whole."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def mirror_checkpoint(directory: Path, note: str) -> Path:
    """Write ``note`` into ``directory`` (and as ``latest.checkpoint``); its path."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / checkpoint_file_name(note)
        write_atomically(path, note)
        write_atomically(directory / LATEST, note)
    except OSError as exc:
        raise AuditError(f"cannot write checkpoint to {directory}: {exc}") from exc
    return path
