"""An operator with plain SQL against the audit tables finds no blind spot in verify or show.

Each attack is plain SQL (and, where the attacker needs one, a hash or a signature made
with their own tools and key), on SQLite and on the real local PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import Connection, create_engine, text
from typer.testing import CliRunner

from firewall.audit.checkpoints import parse_checkpoint, sign_checkpoint
from firewall.audit.events import AuditEvent
from firewall.audit.findings import FindingKind, VerifyReport
from firewall.audit.keyfiles import WriterKeys
from firewall.audit.keys import SigningKey
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_bundle, verify_store
from firewall.cli.audit import app
from tests.audit.tampering import EVENTS, LAST, build_log

OpenLog = Callable[..., SqlAuditLog]
EVERY_2 = CheckpointPolicy(every_records=2)
runner = CliRunner()


@contextmanager
def sql(url: str) -> Iterator[Connection]:
    """One committed transaction of plain SQL on the database."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def run_sql(url: str, statement: str, **params: Any) -> list[Any]:
    with sql(url) as conn:
        result = conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


def kinds(report: VerifyReport) -> set[tuple[FindingKind, int]]:
    return {(finding.kind, finding.seq) for finding in report.findings}


def show(url: str, public_key: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = runner.invoke(
        app, ["show", "--db", url, "--public-key", str(public_key), "--json", *args]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.fixture
def built(audit_url: str, open_log: OpenLog) -> str:
    """The nine-record log, written and closed."""
    with open_log() as log:
        build_log(audit_url, log)
    return audit_url


# -- rows outside the chain -----------------------------------------------------------


@pytest.mark.parametrize("planted_seq", [0, -3])
def test_a_record_copied_below_seq_1_is_a_stray_row(
    built: str, trust: Trust, planted_seq: int
) -> None:
    run_sql(
        built,
        "INSERT INTO audit_records (seq, hash, body, event, call_id) "
        'SELECT :planted, hash, replace(body, \'"outcome":"deny"\', \'"outcome":"allow"\'), '
        "event, call_id FROM audit_records WHERE seq = 3",
        planted=planted_seq,
    )
    report = verify_store(built, trust)
    assert report.status == "tampered"
    assert (FindingKind.STRAY_ROW, planted_seq) in kinds(report)
    assert report.records_checked == LAST


@pytest.mark.parametrize(("planted_seq", "kind"), [(0, "stray_row"), (100, "sequence_gap")])
def test_show_never_displays_a_row_outside_the_chain(
    built: str, key_files: tuple[Path, Path], planted_seq: int, kind: str
) -> None:
    run_sql(
        built,
        "INSERT INTO audit_records (seq, hash, body, event, call_id) "
        "SELECT :planted, hash, replace(body, :deny, :allow), event, call_id "
        "FROM audit_records WHERE seq = 3",
        planted=planted_seq,
        deny='"outcome":"deny"',
        allow='"outcome":"allow"',
    )
    code, shown, err = show(built, key_files[1], "--call-id", "call_2")
    assert [(record["seq"], record["outcome"]) for record in shown] == [(3, "deny")]
    assert code == 1
    assert kind in err


def test_a_row_without_a_sequence_number_is_a_stray_row(built: str, trust: Trust) -> None:
    # Rebuild the table without its primary key, as an operator can, then plant a row.
    statements = [
        "ALTER TABLE audit_records RENAME TO audit_records_old",
        "CREATE TABLE audit_records (seq BIGINT, hash TEXT, body TEXT, event TEXT, "
        "call_id TEXT, ticket TEXT)",
        "INSERT INTO audit_records SELECT seq, hash, body, event, call_id, ticket "
        "FROM audit_records_old",
        "DROP TABLE audit_records_old",
        "INSERT INTO audit_records (seq, hash, body, event, call_id) "
        "SELECT NULL, hash, body, event, call_id FROM audit_records WHERE seq = 5",
    ]
    for statement in statements:
        run_sql(built, statement)
    report = verify_store(built, trust)
    assert report.status == "tampered"
    assert FindingKind.STRAY_ROW in {finding.kind for finding in report.findings}


def test_an_edited_call_id_column_is_a_column_mismatch_and_show_reads_the_record(
    built: str, trust: Trust, key_files: tuple[Path, Path]
) -> None:
    run_sql(built, "UPDATE audit_records SET call_id = 'call_5' WHERE seq = 4")
    report = verify_store(built, trust)
    assert report.status == "tampered"
    assert (FindingKind.COLUMN_MISMATCH, 4) in kinds(report)
    code, shown, _ = show(built, key_files[1], "--call-id", "call_5")
    assert [record["seq"] for record in shown] == [8, 9]
    code, shown, _ = show(built, key_files[1], "--call-id", "call_3")
    assert ([record["seq"] for record in shown], code) == ([4, 6], 1)


def test_an_edited_event_column_is_a_column_mismatch(built: str, trust: Trust) -> None:
    run_sql(built, "UPDATE audit_records SET event = 'outcome' WHERE seq = 8")
    assert (FindingKind.COLUMN_MISMATCH, 8) in kinds(verify_store(built, trust))


def test_records_for_a_call_come_from_the_chain_and_what_the_record_says(built: str) -> None:
    run_sql(
        built,
        "INSERT INTO audit_records (seq, hash, body, event, call_id) "
        "SELECT -1, hash, body, event, call_id FROM audit_records WHERE seq = 3",
    )
    run_sql(built, "UPDATE audit_records SET call_id = 'call_2' WHERE seq = 5")
    run_sql(built, "UPDATE audit_records SET call_id = NULL WHERE seq = 6")
    with SqlAuditLog(built, create=False) as log:
        assert [record.seq for record in log.records_for_call("call_2")] == [3]
        assert [record.seq for record in log.records_for_call("call_3")] == [4, 6]
        assert [record.seq for record in log.records_for_call("call_%")] == []


def test_a_second_head_row_is_a_stray_row(built: str, trust: Trust) -> None:
    statements = [
        "ALTER TABLE audit_head RENAME TO audit_head_old",
        "CREATE TABLE audit_head (id INTEGER, seq BIGINT, hash TEXT, frontier TEXT, "
        "note TEXT, checkpoint_size BIGINT, checkpoint_time TEXT)",
        "INSERT INTO audit_head SELECT id, seq, hash, frontier, note, checkpoint_size, "
        "checkpoint_time FROM audit_head_old",
        "DROP TABLE audit_head_old",
        "INSERT INTO audit_head SELECT 2, seq, hash, frontier, note, checkpoint_size, "
        "checkpoint_time FROM audit_head",
    ]
    for statement in statements:
        run_sql(built, statement)
    report = verify_store(built, trust)
    assert FindingKind.STRAY_ROW in {finding.kind for finding in report.findings}


def test_an_edited_head_frontier_is_a_head_mismatch(built: str, trust: Trust) -> None:
    run_sql(built, "UPDATE audit_head SET frontier = '[]'")
    assert (FindingKind.HEAD_MISMATCH, LAST) in kinds(verify_store(built, trust))


# -- checkpoints cannot be starved ----------------------------------------------------


def stored_sizes(url: str) -> list[int]:
    return [int(row[0]) for row in run_sql(url, "SELECT size FROM audit_checkpoints ORDER BY id")]


STARVE = (
    "UPDATE audit_head SET checkpoint_size = 1000000000000, "
    "checkpoint_time = '9999-12-31T00:00:00.000000+00:00'"
)


GARBLE = "UPDATE audit_head SET checkpoint_size = -1, checkpoint_time = 'soon'"


@pytest.mark.parametrize("edit", [STARVE, GARBLE], ids=["huge", "garbled"])
def test_edited_checkpoint_columns_do_not_stop_the_writers_checkpoints(
    audit_url: str, writer_keys: WriterKeys, tmp_path: Path, edit: str
) -> None:
    mirror = tmp_path / "off-box"
    with SqlAuditLog(audit_url, keys=writer_keys, checkpoints=EVERY_2) as log:
        log.append(EVENTS[0])
    run_sql(audit_url, edit)
    with SqlAuditLog(
        audit_url, keys=writer_keys, checkpoints=EVERY_2, checkpoint_dir=mirror
    ) as log:
        for event in EVENTS[1:7]:
            log.append(event)
            run_sql(audit_url, edit)
    # Edited columns may add checkpoints (a garbled size does), never take one away.
    assert {0, 2, 4, 6} <= set(stored_sizes(audit_url))
    mirrored = {int(path.name[:12]) for path in mirror.glob("0*.checkpoint")}
    assert {2, 4, 6} <= mirrored


def test_an_edited_checkpoint_time_does_not_stop_the_periodic_checkpoint(
    audit_url: str, writer_keys: WriterKeys
) -> None:
    with (
        freeze_time("2025-01-31 09:00:00") as frozen,
        SqlAuditLog(audit_url, keys=writer_keys) as log,
    ):
        log.append(EVENTS[0])
        run_sql(audit_url, STARVE)
        frozen.tick(timedelta(seconds=301))
        assert log.checkpoint(min_age_s=300) is not None
    assert stored_sizes(audit_url) == [0, 1]


def test_a_log_whose_checkpoints_stopped_is_a_checkpoint_missing(
    audit_url: str, open_log: OpenLog, key_files: tuple[Path, Path]
) -> None:
    with open_log(checkpoints=EVERY_2) as log:
        build_log(audit_url, log)
    # What a starved writer leaves: no checkpoint after size 2, the head row consistent.
    run_sql(audit_url, "DELETE FROM audit_checkpoints WHERE size > 2")
    run_sql(
        audit_url,
        "UPDATE audit_head SET checkpoint_size = 2, checkpoint_time = "
        "(SELECT time FROM audit_checkpoints WHERE size = 2)",
    )
    trust = Trust.from_files([key_files[1]], cadence=EVERY_2)
    report = verify_store(audit_url, trust)
    assert report.status == "tampered"
    assert (FindingKind.CHECKPOINT_MISSING, 4) in kinds(report)


def test_a_log_kept_to_its_policy_has_no_checkpoint_missing(
    audit_url: str, writer_keys: WriterKeys, key_files: tuple[Path, Path]
) -> None:
    policy = CheckpointPolicy(every_records=3, every_seconds=60)
    with (
        freeze_time("2025-01-31 09:00:00") as frozen,
        SqlAuditLog(audit_url, keys=writer_keys, checkpoints=policy) as log,
    ):
        for batch, pause in ((1, 10), (4, 59), (1, 1), (2, 0), (1, 3600), (5, 30), (1, 31)):
            log.append_many([EVENTS[n % LAST] for n in range(batch)])
            frozen.tick(timedelta(seconds=pause))
            if pause == 3600:
                assert log.checkpoint(min_age_s=60) is not None
    report = verify_store(audit_url, Trust.from_files([key_files[1]], cadence=policy))
    assert (report.status, report.findings) == ("valid", ())


# -- deleted or re-signed stored checkpoints ------------------------------------------


def test_deleting_every_stored_checkpoint_is_a_finding(built: str, trust: Trust) -> None:
    run_sql(built, "DELETE FROM audit_checkpoints")
    report = verify_store(built, trust)
    assert report.status == "tampered"
    assert FindingKind.CHECKPOINT_MISSING in {finding.kind for finding in report.findings}


def test_deleting_the_newest_stored_checkpoint_is_a_finding(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    with open_log(checkpoints=EVERY_2) as log:
        build_log(audit_url, log)
    run_sql(audit_url, "DELETE FROM audit_checkpoints WHERE size = 8")
    report = verify_store(audit_url, trust)
    assert report.status == "tampered"
    assert FindingKind.CHECKPOINT_MISSING in {finding.kind for finding in report.findings}


def test_the_newest_stored_checkpoint_re_signed_by_a_stranger_is_a_finding(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    with open_log(checkpoints=EVERY_2) as log:
        build_log(audit_url, log)
    [(row_id, note)] = run_sql(
        audit_url, "SELECT id, note FROM audit_checkpoints ORDER BY id DESC LIMIT 1"
    )
    stranger = SigningKey.generate("test-writer")  # the writer's key name, not its key
    forged = sign_checkpoint(parse_checkpoint(note).checkpoint, [stranger])
    run_sql(
        audit_url,
        "UPDATE audit_checkpoints SET note = :note WHERE id = :id",
        note=forged,
        id=row_id,
    )
    report = verify_store(audit_url, trust)
    assert report.status == "tampered"
    assert (FindingKind.UNKNOWN_KEY, 8) in kinds(report)


# -- smaller ones ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbled",
    [
        "{not json",
        '{"format": "agent-firewall-inclusion-proof/1", "seq": "x"}',
        '{"format": "agent-firewall-consistency-proof/1", "old_checkpoint": "a", '
        '"new_checkpoint": "b", "path": []}',
        "[]",
    ],
)
def test_a_garbled_proof_file_is_invalid_exit_1(
    tmp_path: Path, key_files: tuple[Path, Path], garbled: str
) -> None:
    proof = tmp_path / "proof.json"
    proof.write_text(garbled, encoding="utf-8")
    result = runner.invoke(app, ["verify-proof", str(proof), "--public-key", str(key_files[1])])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("INVALID: ")


def recompute_from(url: str, seq: int, old: str, new: str) -> None:
    """Edit record ``seq`` and recompute every later hash and link, as an operator can."""
    rows = run_sql(url, "SELECT seq, body FROM audit_records WHERE seq >= :s ORDER BY seq", s=seq)
    previous = None
    with sql(url) as conn:
        for row_seq, stored_body in rows:
            body = str(stored_body)
            if previous is not None:
                body = body.replace(json.loads(body)["prev_hash"], previous)
            if row_seq == seq:
                body = body.replace(old, new)
            previous = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
            conn.execute(
                text("UPDATE audit_records SET body = :b, hash = :h WHERE seq = :s"),
                {"b": body, "h": previous, "s": row_seq},
            )
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": previous})


def test_a_recomputed_chain_is_narrowed_to_the_records_between_two_checkpoints(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    with open_log(checkpoints=EVERY_2) as log:
        build_log(audit_url, log)
    recompute_from(audit_url, 8, '"amount":50', '"amount":5000')
    report = verify_store(audit_url, trust)
    assert (report.status, report.first_bad_seq) == ("tampered", 7)
    assert report.summary().startswith("TAMPERED: first bad record in seq 7..8: ")


def deny_at_last_look(call_id: str, stage: str) -> AuditEvent:
    allowed = EVENTS[0]
    return allowed.model_copy(
        update={
            "call_id": call_id,
            "outcome": "deny",
            "code": "store_error",
            "reasons": ("frozen",),
            "details": {"stage": stage},
        }
    )


def test_a_call_refused_at_the_last_look_is_not_in_doubt(
    audit_url: str, open_log: OpenLog, trust: Trust
) -> None:
    allowed = EVENTS[0]
    with open_log() as log:
        log.append(allowed.model_copy(update={"call_id": "never_ran_1"}))
        log.append(deny_at_last_look("never_ran_1", "freeze"))
        log.append(allowed.model_copy(update={"call_id": "never_ran_2"}))
        log.append(deny_at_last_look("never_ran_2", "credential"))
        log.append(allowed.model_copy(update={"call_id": "maybe_ran"}))
        log.append(deny_at_last_look("maybe_ran", "rate_limit"))  # a retry, refused
        other = {**(allowed.principal or {}), "tenant": "globex"}
        log.append(allowed.model_copy(update={"call_id": "other_tenant"}))
        log.append(
            deny_at_last_look("other_tenant", "freeze").model_copy(update={"principal": other})
        )
    report = verify_store(audit_url, trust)
    assert [call.call_id for call in report.in_doubt] == ["maybe_ran", "other_tenant"]


def test_a_row_whose_seq_is_text_is_found(audit_url: str, built: str, trust: Trust) -> None:
    if not audit_url.startswith("sqlite"):
        pytest.skip("only SQLite stores a text seq in a rebuilt table (PostgreSQL types it)")
    statements = [
        "ALTER TABLE audit_records RENAME TO audit_records_old",
        "CREATE TABLE audit_records (seq, hash TEXT, body TEXT, event TEXT, "
        "call_id TEXT, ticket TEXT)",
        "INSERT INTO audit_records SELECT seq, hash, body, event, call_id, ticket "
        "FROM audit_records_old",
        "DROP TABLE audit_records_old",
        "INSERT INTO audit_records (seq, hash, body, event, call_id) "
        "SELECT 'x0', hash, body, event, call_id FROM audit_records WHERE seq = 3",
    ]
    for statement in statements:
        run_sql(built, statement)
    assert verify_store(built, trust).status == "tampered"


def test_show_withholds_the_records_from_the_first_bad_one_on(
    audit_url: str, open_log: OpenLog, key_files: tuple[Path, Path]
) -> None:
    with open_log(checkpoints=EVERY_2) as log:  # a checkpoint vouches for seq 1..4
        build_log(audit_url, log)
    built = audit_url
    run_sql(
        built,
        "UPDATE audit_records SET body = replace(body, :old, :new) WHERE seq = 5",
        old='"amount":40',
        new='"amount":4000',
    )
    code, shown, err = show(built, key_files[1], "--limit", "20")
    assert [record["seq"] for record in shown] == [1, 2, 3, 4]
    assert code == 1
    assert "withheld 5 record(s) after seq 4: not verified" in err
    code, shown, _ = show(built, key_files[1], "--call-id", "call_4")
    assert (shown, code) == ([], 1)


def test_checkpoints_deleted_from_a_bundle_are_missing(
    audit_url: str, open_log: OpenLog, trust: Trust, tmp_path: Path
) -> None:
    with open_log(checkpoints=EVERY_2) as log:
        build_log(audit_url, log)
        log.export(tmp_path / "bundle")
    for path in sorted((tmp_path / "bundle" / "checkpoints").glob("*.checkpoint"))[:-1]:
        path.unlink()  # keep only the newest: the signed head
    report = verify_bundle(tmp_path / "bundle", Trust(keys=trust.keys, cadence=EVERY_2))
    assert report.status == "tampered"
    assert (FindingKind.CHECKPOINT_MISSING, 1) in kinds(report)
