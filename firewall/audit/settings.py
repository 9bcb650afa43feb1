"""Settings of the audit log (the ``[audit]`` table of firewall.toml)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from firewall.audit.deferred import DEFAULT_LINGER_S
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

    ``sqlite_synchronous`` (SQLite only) is what a commit waits for. ``full`` (default):
    the WAL is fsynced, so a decision record survives power loss; a tool whose effect
    outlives a power cut (a refund at the payment provider) then never lacks its
    record. ``normal``: the WAL is written but not fsynced, so a record survives the
    process crashing or being killed, not the machine losing power; it saves the fsync
    (about 0.3 ms per call on a cloud disk). PostgreSQL's own ``synchronous_commit`` is
    set on the server.

    ``outcome_flush_s``: a tool's outcome record is written off the caller's path; it
    rides along with the next decision's commit, or is sealed at most this many seconds
    later. A crash within that window leaves the call "in doubt" (the verifier lists it).
    """

    key_file: Path | None = None
    dev_key: bool = False
    checkpoints: CheckpointPolicy = CheckpointPolicy()
    checkpoint_dir: Path | None = None
    sqlite_synchronous: Literal["full", "normal"] = "full"
    outcome_flush_s: Annotated[float, Field(ge=0, le=60)] = DEFAULT_LINGER_S

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
