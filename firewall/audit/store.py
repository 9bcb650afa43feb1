"""The audit log in SQL: SQLite by default, PostgreSQL for several workers and hosts.

Writing needs the writer's Ed25519 key (see :mod:`firewall.audit.keyfiles`); reading and
verifying do not. Appends are group-committed (see :mod:`firewall.audit.appender`) and
return only once durable; :meth:`SqlAuditLog.append_later` (outcome records) returns at
once and the record is sealed soon after (see :mod:`firewall.audit.deferred`).
"""

from __future__ import annotations

import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy import Connection

from firewall.audit.appender import DirectSealer
from firewall.audit.bundle import BundleManifest, export_bundle
from firewall.audit.deferred import DEFAULT_LINGER_S, BackgroundFlusher
from firewall.audit.engine import SqliteSync, make_engine, snapshot_options, translated_errors
from firewall.audit.events import AuditEvent
from firewall.audit.group import GroupCommit
from firewall.audit.handoff import HandoffSealer
from firewall.audit.heads import HeadState
from firewall.audit.keyfiles import WriterKeys, resolve_writer_keys
from firewall.audit.keys import SigningKey
from firewall.audit.maintenance import (
    Erasure,
    discard_staged,
    erase_subject,
    install_key,
    rotate,
    stage_key_file,
    write_checkpoint,
)
from firewall.audit.mirror import mirror_checkpoint
from firewall.audit.reading import AuditSnapshot
from firewall.audit.records import AuditRecord, SealedRecord, event_data, format_time
from firewall.audit.schema import ERASABLE_TABLES, check_tables, create_tables, read_meta
from firewall.audit.scrub import FileScrub, scrub_files
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.vault import parse_reference
from firewall.audit.vault_store import SubjectKeyCache
from firewall.audit.writer import ChainWriter
from firewall.errors import AuditError
from firewall.sqlite_files import checked_file

DEFAULT_CHUNK_SIZE = 2000
log = structlog.get_logger("firewall.audit")
ORIGIN_PREFIX = "agent-firewall/audit/"


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class SqlAuditLog:
    """The hash-chained, signed audit log in one SQL database (an :class:`AuditSink`).

    ``create=False`` opens an existing log read-only (no key needed). Otherwise ``keys``
    (default: found by :func:`resolve_writer_keys`) sign every head; ``checkpoints``
    says how often a checkpoint is kept, and ``checkpoint_dir`` receives a copy of each.
    ``handoff`` (default: on for PostgreSQL) groups appends across processes.
    ``sqlite_synchronous`` and ``outcome_flush_s``: see
    :class:`~firewall.audit.settings.AuditSettings`.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        keys: WriterKeys | None = None,
        checkpoints: CheckpointPolicy | None = None,
        checkpoint_dir: Path | None = None,
        handoff: bool | None = None,
        clock: Callable[[], datetime] = utc_now,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        sqlite_synchronous: SqliteSync = "full",
        outcome_flush_s: float = DEFAULT_LINGER_S,
    ) -> None:
        self._chunk_size = chunk_size
        self._checkpoint_dir = checkpoint_dir
        self._writer: ChainWriter | None = None
        if create:
            keys = keys or resolve_writer_keys(url)
            self._writer = ChainWriter(keys, checkpoints or CheckpointPolicy(), clock)
        self._engine = make_engine(url, read_only=not create, sqlite_synchronous=sqlite_synchronous)
        try:
            self.meta = self._open()
        except AuditError:
            self._engine.dispose()
            raise
        self.origin = self.meta["origin"]
        self._group: GroupCommit | None = None
        self._flusher: BackgroundFlusher | None = None
        if self._writer is not None:
            self._writer.origin = self.origin
            use_handoff = self._engine.dialect.name == "postgresql" if handoff is None else handoff
            self._subject_keys = SubjectKeyCache()
            self._sealer = (HandoffSealer if use_handoff else DirectSealer)(
                self._engine, self._writer, self._mirror, self._subject_keys
            )
            self._group = GroupCommit(self._sealer)
            self._flusher = BackgroundFlusher(self._group, outcome_flush_s)
            # Seal deferred events when this log is dropped or the interpreter exits.
            self._finalizer = weakref.finalize(self, self._flusher.close)

    # -- writing ----------------------------------------------------------------------

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` as the next record; durable when this returns."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` as consecutive records, in order, in one transaction."""
        return [sealed.record() for sealed in self.append_sealed(events)]

    def append_sealed(self, events: Iterable[AuditEvent]) -> list[SealedRecord]:
        """Like :meth:`append_many`, returning the stored form (no parsing)."""
        data = [event_data(event) for event in events]
        if not data:
            return []
        group = self._group_or_fail()
        with translated_errors("append"):
            return group.submit(data)

    def append_later(self, event: AuditEvent) -> None:
        """Seal ``event`` soon, off the caller's path (for a tool call's outcome record).

        It rides along in this process's next append, or a background thread seals it
        within ``outcome_flush_s``; reads of this log, :meth:`flush` and :meth:`close`
        seal it first. An event that cannot be sealed is logged
        (``audit_event_not_sealed``): an outcome's call then stays "in doubt". An event
        with no JSON form raises :class:`AuditError` here; if too many are queued, this
        append waits until they and it are sealed.
        """
        data = [event_data(event)]
        group = self._group_or_fail()
        if group.defer(data):
            assert self._flusher is not None  # noqa: S101 - set together with the group
            self._flusher.notify()
            return
        with translated_errors("append"):
            group.submit(data)

    def flush(self) -> None:
        """Seal every event :meth:`append_later` queued; return once they are committed."""
        # Always through the commit lock: a batch the background flusher already took (so
        # no longer counted as deferred) may still be committing.
        if self._group is not None:
            self._group.flush()

    @property
    def writer_keys(self) -> WriterKeys:
        """The keys this log signs with (:class:`AuditError` if opened read-only)."""
        return self._writer_or_fail().keys

    def erase(self, subject: str) -> Erasure | None:
        """Destroy ``subject``'s key and values and append ``subject_erased`` (None if unknown).

        The deleted rows stay in the database files until :meth:`scrub_files` runs
        (``firewall audit erase`` does both).
        """
        with self._maintenance() as (conn, head, writer):
            erasure, note = erase_subject(conn, head, writer, subject)
            self._subject_keys.forget(subject)
        self._mirror(note)
        return erasure

    def scrub_files(self, extra_tables: Sequence[str] = ()) -> FileScrub:
        """After :meth:`erase`: remove deleted keys from the database files (see
        :mod:`firewall.audit.scrub`); ``extra_tables`` of other stores in the same database."""
        self._writer_or_fail()
        return scrub_files(self._engine, (*ERASABLE_TABLES, *extra_tables))

    def checkpoint(self, *, min_age_s: float | None = None) -> str | None:
        """Sign and store a checkpoint of the head now (even if nothing was appended).

        With ``min_age_s``, only if the last checkpoint is at least that old (so several
        processes on a timer store one per interval). Returns the note, or None.
        """
        with self._maintenance() as (conn, head, writer):
            note = write_checkpoint(conn, head, writer, min_age_s)
        self._mirror(note)
        return note

    def rotate_key(self, new_key: SigningKey) -> AuditRecord:
        """Append ``key_rotated`` signed by the old and ``new_key``, then sign with the new.

        If the keys came from a file, the file is replaced (new key first, the old
        public keys after it), so every writer using it switches on its next append.
        """
        writer = self._writer_or_fail()
        staged = stage_key_file(writer.keys, new_key)
        try:
            with self._maintenance() as (conn, head, _):
                record, note = rotate(conn, head, writer, new_key)
        except BaseException:
            discard_staged(staged)
            raise
        install_key(writer.keys, new_key, staged)
        self._mirror(note)
        return record

    @contextmanager
    def _maintenance(self) -> Iterator[tuple[Connection, HeadState, ChainWriter]]:
        writer = self._writer_or_fail()
        assert self._group is not None  # noqa: S101 - set together with the writer
        with self._group.exclusive(), translated_errors("write"), self._engine.connect() as conn:
            with checked_file(conn), conn.begin():
                yield conn, writer.lock_head(conn), writer
            writer.continuity.committed()

    def _writer_or_fail(self) -> ChainWriter:
        if self._writer is None:
            raise AuditError("this audit log was opened read-only (create=False)")
        return self._writer

    def _group_or_fail(self) -> GroupCommit:
        self._writer_or_fail()
        assert self._group is not None  # noqa: S101 - set together with the writer
        return self._group

    def _mirror(self, note: str | None) -> None:
        # The checkpoint is committed already: a failed copy must not fail the append.
        if note is None or self._checkpoint_dir is None:
            return
        try:
            mirror_checkpoint(self._checkpoint_dir, note)
        except AuditError as exc:
            log.exception("audit_checkpoint_not_mirrored", error=str(exc))

    # -- reading ----------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[AuditSnapshot]:
        """A consistent read view: head, checkpoints and records as of one moment.

        Events this process deferred are sealed first, so it reads its own appends.
        """
        self.flush()
        with translated_errors("read"), self._engine.connect() as conn:
            conn.execution_options(**snapshot_options(self._engine))
            with checked_file(conn), conn.begin():
                yield AuditSnapshot(conn, self._chunk_size)

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last record as the head row says, or None if empty."""
        with self.snapshot() as view:
            return view.head()

    def records(self, start_seq: int = 1) -> Iterator[AuditRecord]:
        """The records from ``start_seq`` on, in sequence order, streamed in chunks."""
        with self.snapshot() as view:
            yield from view.records(start_seq)

    def records_for_call(self, call_id: str) -> list[AuditRecord]:
        """Every record of one call, in sequence order."""
        with self.snapshot() as view:
            return view.records_for_call(call_id)

    def last_records(self, limit: int, call_id: str | None = None) -> list[AuditRecord]:
        """The last ``limit`` records (of one call, if ``call_id``), oldest first."""
        if call_id is not None:
            return self.records_for_call(call_id)[-limit:]
        with self.snapshot() as view:
            head = view.head()
            start = max(1, head[0] - limit + 1) if head else 1
            return list(deque(view.records(start), maxlen=limit))

    def reveal(self, reference: str) -> tuple[bool, Any]:
        """``(True, value)`` behind a ``pd:`` reference, or ``(False, None)`` if erased."""
        if parse_reference(reference) is None:
            raise AuditError(f"{reference[:80]!r} is not a personal-data reference")
        with self.snapshot() as view:
            return view.reveal(reference)

    def export(self, out_dir: Path) -> BundleManifest:
        """Write a self-contained bundle of the whole log (no personal values) to ``out_dir``."""
        with self.snapshot() as view:
            return export_bundle(view, out_dir, format_time(utc_now()))

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Seal every deferred event, stop the flusher, release every pooled connection."""
        if self._group is not None:
            self._finalizer()
            with self._group.exclusive():
                self._sealer.session.close()
        self._engine.dispose()

    def __enter__(self) -> SqlAuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> dict[str, str]:
        with translated_errors("open its tables"), self._engine.connect() as conn:
            if self._writer is None:  # read without taking SQLite's write lock
                conn.execution_options(**snapshot_options(self._engine))
            with conn.begin():
                if self._writer is None:
                    check_tables(conn)
                elif create_tables(conn):
                    log_id = uuid.uuid4().hex
                    self._writer.initialize(conn, log_id, ORIGIN_PREFIX + log_id)
                else:
                    check_tables(conn)
                meta = read_meta(conn)
                if self._writer is not None:  # refuse to start on a head we cannot trust
                    self._writer.origin = meta["origin"]
                    self._writer.check_head(conn)
                return meta
