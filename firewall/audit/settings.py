"""Settings of the audit log (the ``[audit]`` table of firewall.toml)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from firewall.audit.keyfiles import (
    KEY_FILE_ENV,
    WriterKeys,
    ensure_dev_key,
    resolve_writer_keys,
    sqlite_directory,
)
from firewall.types import Frozen


class CheckpointPolicy(Frozen):
    """When the writer stores a signed checkpoint: every N records or T seconds."""

    every_records: Annotated[int, Field(ge=1, le=10_000_000)] = 1000
    every_seconds: Annotated[float, Field(gt=0, le=7 * 24 * 3600)] = 300.0


class AuditSettings(Frozen):
    """Keys and checkpoints of the audit log.

    ``key_file`` (or ``FIREWALL_AUDIT_KEY_FILE``) names the writer's Ed25519 key, made by
    ``firewall audit keygen``. Without one the writer refuses to start, unless
    ``dev_key`` opts into a development key generated in the data directory (demos).
    ``checkpoint_dir`` receives a copy of every checkpoint: mount it somewhere the
    database operator cannot rewrite (another host, a WORM bucket).
    """

    key_file: Path | None = None
    dev_key: bool = False
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    checkpoint_dir: Path | None = None

    def writer_keys(self, url: str, data_dir: Path | None = None) -> WriterKeys:
        """The writer's keys for the log at ``url``.

        ``key_file``, then ``FIREWALL_AUDIT_KEY_FILE``; then, if ``dev_key``, the dev key
        of ``data_dir`` (default: the SQLite database's directory), created if missing.
        """
        if self.key_file is None and not os.environ.get(KEY_FILE_ENV) and self.dev_key:
            directory = data_dir or sqlite_directory(url)
            if directory is not None:
                return WriterKeys.from_file(ensure_dev_key(directory))
        return resolve_writer_keys(url, self.key_file)
