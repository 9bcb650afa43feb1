"""The SQL audit log: gapless signed appends, read-back, checkpoints, and refusing to write."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select, text, update

from firewall.audit.checkpoints import parse_checkpoint, signature_status, signed_time
from firewall.audit.events import AuditEvent
from firewall.audit.keyfiles import KEY_FILE_ENV, WriterKeys
from firewall.audit.keys import SigningKey
from firewall.audit.merkle import leaf_hash
from firewall.audit.records import GENESIS_HASH
from firewall.audit.schema import checkpoints_table, head_table
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_store
from firewall.errors import AuditError
from tests.audit.tampering import ALICE, EVENTS, build_log, corrupt_head_signature, database, rows

OpenLog = Callable[..., SqlAuditLog]


def event(n: int) -> AuditEvent:
    return AuditEvent(event="decision", call_id=f"call_{n}", details={"n": n})


def stored_sizes(url: str) -> list[int]:
    with database(url) as conn:
        query = select(checkpoints_table.c.size).order_by(checkpoints_table.c.id)
        return list(conn.execute(query).scalars())


def test_appends_get_gapless_sequence_numbers_and_links(open_log: OpenLog) -> None:
    log = open_log()
    records = [log.append(event(n)) for n in range(1, 6)]
    assert [record.seq for record in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert log.head() == (5, records[-1].hash)


def test_append_many_seals_consecutive_records(open_log: OpenLog) -> None:
    log = open_log()
    first = log.append(event(0))
    batch = log.append_many([event(n) for n in range(1, 4)])
    assert [record.seq for record in batch] == [2, 3, 4]
    assert batch[0].prev_hash == first.hash
    assert log.append_many([]) == []


def test_records_read_back_exactly(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    appended = [log.append(e) for e in EVENTS]
    assert list(log.records()) == appended
    assert list(log.records(start_seq=8)) == appended[7:]
    assert log.records_for_call("call_4") == [appended[4], appended[6]]


def test_personal_data_is_never_stored_raw_in_the_chain(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    record = log.append(EVENTS[0])
    stored = " ".join(body for _, _, body in rows(audit_url))
    assert "c-100" not in stored
    assert "jane@example.com" not in stored
    assert record.principal is not None
    assert log.reveal(record.principal["on_behalf_of"]) == (True, ALICE["on_behalf_of"])
    assert record.args is not None
    assert log.reveal(record.args["email"]) == (True, "jane@example.com")


def test_the_same_value_of_one_subject_gets_one_reference(open_log: OpenLog) -> None:
    log = open_log()
    first, second = log.append(EVENTS[0]), log.append(EVENTS[4])
    assert first.args is not None
    assert second.args is not None
    assert first.args["email"] == second.args["email"]


def test_a_read_only_log_needs_no_key_and_refuses_to_write(
    audit_url: str, open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_log().append(event(1))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with SqlAuditLog(audit_url, create=False) as reader:
        assert [record.seq for record in reader.records()] == [1]
        with pytest.raises(AuditError, match="read-only"):
            reader.append(event(2))


def test_a_writer_without_a_key_refuses_to_start(
    audit_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with pytest.raises(AuditError, match="no audit signing key"):
        SqlAuditLog(audit_url)


def test_reading_a_missing_log_names_what_is_missing(audit_url: str) -> None:
    with pytest.raises(AuditError, match=r"audit tables missing|does not exist"):
        SqlAuditLog(audit_url, create=False)


def test_a_format_1_database_is_refused(audit_url: str, writer_keys: WriterKeys) -> None:
    with database(audit_url) as conn:
        conn.execute(text("CREATE TABLE audit_records (seq INTEGER PRIMARY KEY, hash TEXT)"))
    with pytest.raises(AuditError, match="older version"):
        SqlAuditLog(audit_url, keys=writer_keys)


def test_every_head_is_signed_by_the_writer(audit_url: str, open_log: OpenLog) -> None:
    log = open_log()
    last = log.append(event(1))
    with log.snapshot() as view:
        note = parse_checkpoint(str(view.head_note()))
    leaf = leaf_hash(bytes.fromhex(last.hash.removeprefix("sha256:")))
    assert (note.checkpoint.size, note.checkpoint.root) == (1, leaf)
    assert signature_status(note, log.writer_keys.accepted)[0] == "verified"


def test_a_checkpoint_is_kept_every_n_records(audit_url: str, open_log: OpenLog) -> None:
    log = open_log(checkpoints=CheckpointPolicy(every_records=3))
    log.append_many([event(n) for n in range(2)])
    for n in range(2, 8):
        log.append(event(n))
    assert stored_sizes(audit_url) == [0, 3, 6]


def test_a_checkpoint_is_kept_every_t_seconds(sqlite_url: str, writer_keys: WriterKeys) -> None:
    with freeze_time("2025-01-31 09:00:00") as frozen:
        log = SqlAuditLog(
            sqlite_url, keys=writer_keys, checkpoints=CheckpointPolicy(every_seconds=60)
        )
        log.append(event(1))
        frozen.tick(timedelta(seconds=61))
        log.append(event(2))
        log.append(event(3))
        log.close()
    assert stored_sizes(sqlite_url) == [0, 2]


def test_an_empty_interval_still_gets_a_checkpoint(
    sqlite_url: str, writer_keys: WriterKeys
) -> None:
    with freeze_time("2025-01-31 09:00:00") as frozen:
        log = SqlAuditLog(sqlite_url, keys=writer_keys)
        log.append(event(1))
        assert log.checkpoint(min_age_s=300) is None
        frozen.tick(timedelta(seconds=301))
        note = log.checkpoint(min_age_s=300)
        log.close()
    assert note is not None
    parsed = parse_checkpoint(note)
    signed = signed_time(parsed, log.writer_keys.accepted)
    assert (parsed.checkpoint.size, signed) == (1, "2025-01-31T09:05:01.000000+00:00")
    assert stored_sizes(sqlite_url) == [0, 1]


def test_checkpoints_are_copied_to_the_checkpoint_dir(open_log: OpenLog, tmp_path: Path) -> None:
    log = open_log(checkpoints=CheckpointPolicy(every_records=2), checkpoint_dir=tmp_path / "off")
    log.append_many([event(1), event(2)])
    note = log.checkpoint()
    names = sorted(path.name for path in (tmp_path / "off").iterdir())
    assert names[0].startswith("000000000002-")
    assert names[-1] == "latest.checkpoint"
    assert (tmp_path / "off" / "latest.checkpoint").read_text() == note


def test_the_writer_refuses_to_append_after_a_head_it_cannot_verify(
    audit_url: str, open_log: OpenLog, writer_keys: WriterKeys
) -> None:
    open_log().append(event(1))
    corrupt_head_signature(audit_url)
    with pytest.raises(AuditError, match="refusing to append"):
        open_log().append(event(2))


def test_the_writer_refuses_a_head_row_that_its_signed_head_does_not_match(
    audit_url: str, open_log: OpenLog
) -> None:
    open_log().append_many([event(1), event(2)])
    with database(audit_url) as conn:
        conn.execute(update(head_table).values(seq=1))
    with pytest.raises(AuditError, match="does not match its signed checkpoint"):
        open_log().append(event(3))


@pytest.mark.parametrize(
    "edit",
    [{"seq": 1}, {"hash": "sha256:" + "0" * 64}, {"frontier": '["' + "00" * 32 + '"]'}],
    ids=["seq", "hash", "frontier"],
)
def test_the_writer_that_signed_the_head_still_refuses_a_head_row_edited_beside_its_note(
    audit_url: str, open_log: OpenLog, edit: dict[str, object]
) -> None:
    log = open_log()
    log.append_many([event(1), event(2)])
    with database(audit_url) as conn:
        conn.execute(update(head_table).values(**edit))
    with pytest.raises(AuditError, match="refusing to append"):
        log.append(event(3))


def test_a_writer_with_another_key_refuses_to_start(audit_url: str, open_log: OpenLog) -> None:
    open_log().append(event(1))
    stranger = WriterKeys(SigningKey.generate("stranger"))
    with pytest.raises(AuditError, match="unknown_key"):
        SqlAuditLog(audit_url, keys=stranger)


def test_two_writers_on_one_database_build_one_chain(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    first, second = open_log(), open_log()
    for n in range(6):
        (first if n % 2 else second).append(event(n))
    assert [record.seq for record in first.records()] == list(range(1, 7))
    assert verify_store(audit_url, trust).valid


def test_threads_sharing_one_log_build_one_gapless_chain(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    log = open_log()
    with ThreadPoolExecutor(max_workers=8) as pool:
        appended = list(pool.map(lambda n: log.append(event(n)), range(120)))
    assert sorted(record.seq for record in appended) == list(range(1, 121))
    report = verify_store(audit_url, trust)
    assert (report.valid, report.records_checked) == (True, 120)


def test_a_key_rotation_is_endorsed_in_the_chain(
    audit_url: str, open_log: OpenLog, key_files: tuple[Path, Path], tmp_path: Path
) -> None:
    log = open_log()
    build_log(audit_url, log)
    new_key = SigningKey.generate("test-writer-2")
    rotation = log.rotate_key(new_key)
    after = log.append(event(99))
    assert rotation.event == "key_rotated"
    assert WriterKeys.from_file(key_files[0]).signing == new_key
    assert WriterKeys.from_file(key_files[0]).previous[0].name == "test-writer"
    with log.snapshot() as view:
        head = parse_checkpoint(str(view.head_note()))
    assert (head.checkpoint.size, head.signatures[0].name) == (after.seq, "test-writer-2")
    old_only = verify_store(audit_url, Trust.from_files([key_files[1]]))
    assert (old_only.valid, old_only.signed_through) == (True, after.seq)
    new_pub = tmp_path / "new.pub"
    new_pub.write_text(new_key.verifier.text())
    assert verify_store(audit_url, Trust.from_files([new_pub])).valid


@pytest.mark.postgres
def test_events_planted_in_the_handoff_table_are_never_sealed(
    pg_url: str, writer_keys: WriterKeys, trust: Trust
) -> None:
    with SqlAuditLog(pg_url, keys=writer_keys) as log:
        log.append(event(1))
        with database(pg_url) as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_pending (ticket, event, call_id, entry, personal, mac) "
                    "VALUES ('t_forged', 'decision', 'call_x', "
                    "'{\"event\":\"decision\"}', '[]', '00')"
                )
            )
        log.append(event(2))
        assert [record.call_id for record in log.records()] == ["call_1", "call_2"]
    assert verify_store(pg_url, trust).valid


@pytest.mark.postgres
def test_postgres_can_seal_without_the_handoff(pg_url: str, writer_keys: WriterKeys) -> None:
    with SqlAuditLog(pg_url, keys=writer_keys, handoff=False) as log:
        records = log.append_many([event(1), event(2)])
    assert [record.seq for record in records] == [1, 2]


def test_other_writers_switch_to_the_rotated_key_on_their_next_append(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    rotating, other = open_log(), open_log()
    other.append(event(1))
    rotating.rotate_key(SigningKey.generate("test-writer-2"))
    other.append(event(2))
    assert other.writer_keys.signing.name == "test-writer-2"
    with other.snapshot() as view:
        head = parse_checkpoint(str(view.head_note()))
    assert {line.name for line in head.signatures} == {"test-writer-2"}
    assert verify_store(audit_url, trust).valid
