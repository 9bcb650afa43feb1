"""Build a small signed log, and tamper with it directly in the database.

The attacker here has database access only: they can rewrite any row, recompute any
hash and the Merkle frontier, but they do not hold the writer's private key (at most a
key of their own).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, delete, insert, select, update

from firewall.audit.checkpoints import Checkpoint, parse_checkpoint, sign_checkpoint
from firewall.audit.events import AuditEvent
from firewall.audit.jcs import canonical
from firewall.audit.keys import SigningKey
from firewall.audit.merkle import Frontier, leaf_hash
from firewall.audit.records import GENESIS_HASH, HASH_PREFIX, hash_body, seal_body
from firewall.audit.schema import checkpoints_table, head_table, records_table
from firewall.audit.store import SqlAuditLog

ALICE = {
    "agent_id": "support-bot",
    "tenant": "acme",
    "scopes": ["crm:read", "refunds:write"],
    "on_behalf_of": "customer:c-100",
    "requested_by": "bob",
}
CAROL = {**ALICE, "on_behalf_of": "customer:c-200"}
REVISION = "sha256:" + "ab" * 32


def refund(call_id: str, principal: dict[str, Any], amount: int) -> AuditEvent:
    """The decision to run a refund, with the customer's email as a personal argument."""
    return AuditEvent(
        event="decision",
        call_id=call_id,
        decision_id=f"dec_{call_id}",
        principal=principal,
        tool="issue_refund",
        outcome="allow",
        reasons=("under the limit",),
        policy_revision=REVISION,
        args={"order_id": f"o-{call_id}", "amount": amount, "email": "jane@example.com"},
        personal_args=("email",),
        details={"stage": "decided"},
    )


def outcome(call_id: str, principal: dict[str, Any]) -> AuditEvent:
    """The tool ran and returned."""
    return AuditEvent(
        event="outcome", call_id=call_id, principal=principal, tool="issue_refund", outcome="ok"
    )


# Nine records for two customers; seq 5 (the middle one) is a refund decision.
EVENTS = [
    refund("call_1", ALICE, 10),
    outcome("call_1", ALICE),
    AuditEvent(
        event="decision",
        call_id="call_2",
        principal=CAROL,
        tool="pay",
        outcome="deny",
        code="policy",
        reasons=("payments are closed",),
        policy_revision=REVISION,
    ),
    refund("call_3", CAROL, 30),
    refund("call_4", ALICE, 40),
    outcome("call_3", CAROL),
    outcome("call_4", ALICE),
    refund("call_5", CAROL, 50),
    outcome("call_5", CAROL),
]
MIDDLE = 5
LAST = len(EVENTS)


def build_log(url: str, log: SqlAuditLog) -> list[str]:
    """Append EVENTS one by one; the record hashes."""
    return [log.append(event).hash for event in EVENTS]


@contextmanager
def database(url: str) -> Iterator[Connection]:
    """One committed transaction on the raw database."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def rows(url: str) -> list[tuple[int, str, str]]:
    """``(seq, hash, body)`` of every record row."""
    with database(url) as conn:
        query = select(records_table.c.seq, records_table.c.hash, records_table.c.body)
        return [tuple(row) for row in conn.execute(query.order_by(records_table.c.seq))]


def body_of(url: str, seq: int) -> dict[str, Any]:
    """The parsed body of record ``seq``."""
    return dict(json.loads(next(body for s, _, body in rows(url) if s == seq)))


def rewritten(body: dict[str, Any], **entry_changes: Any) -> str:
    """``body`` re-encoded canonically with some entry fields changed."""
    entry = {**body["entry"], **entry_changes}
    return seal_body(canonical(entry), body["seq"], body["prev_hash"], body["time"])


def set_row(url: str, seq: int, **values: Any) -> None:
    """Overwrite columns of the record row ``seq``."""
    with database(url) as conn:
        conn.execute(update(records_table).where(records_table.c.seq == seq).values(values))


def edit_entry(url: str, seq: int, *, rehash: bool, **changes: Any) -> None:
    """Change entry fields of record ``seq``; with ``rehash`` also store the new hash."""
    body = rewritten(body_of(url, seq), **changes)
    set_row(url, seq, body=body, **({"hash": hash_body(body)} if rehash else {}))


def delete_rows(url: str, *seqs: int) -> None:
    """Delete the record rows ``seqs``."""
    with database(url) as conn:
        conn.execute(delete(records_table).where(records_table.c.seq.in_(seqs)))


def swap_records(url: str, first: int, second: int) -> None:
    """Exchange everything but ``seq`` between two record rows."""
    stored = {seq: (record_hash, body) for seq, record_hash, body in rows(url)}
    set_row(url, first, hash=stored[second][0], body=stored[second][1])
    set_row(url, second, hash=stored[first][0], body=stored[first][1])


def point_head_at_records(url: str) -> None:
    """Make the head row's seq, hash and frontier match the record rows (not the note)."""
    frontier, last_seq, last_hash = Frontier(), 0, GENESIS_HASH
    for seq, record_hash, _ in rows(url):
        frontier.append(leaf_hash(bytes.fromhex(record_hash[len(HASH_PREFIX) :])))
        last_seq, last_hash = seq, record_hash
    frontier_json = json.dumps([item.hex() for item in frontier.hashes()])
    with database(url) as conn:
        conn.execute(
            update(head_table).values(seq=last_seq, hash=last_hash, frontier=frontier_json)
        )


def append_forged(url: str, event: AuditEvent) -> None:
    """Add a record after the last one, correctly hashed and linked, and move the head."""
    last_seq, last_hash, last_body = rows(url)[-1]
    time = json.loads(last_body)["time"]
    body = seal_body(canonical(event.model_dump(mode="json")), last_seq + 1, last_hash, time)
    with database(url) as conn:
        conn.execute(
            insert(records_table).values(
                seq=last_seq + 1,
                hash=hash_body(body),
                body=body,
                event=event.event,
                call_id=event.call_id,
            )
        )
    point_head_at_records(url)


def recompute_chain_from(url: str, seq: int, **changes: Any) -> None:
    """Change record ``seq`` and re-link and re-hash every record after it, and the head."""
    previous = None
    for row_seq, _, body_text in rows(url):
        if row_seq < seq:
            continue
        body = json.loads(body_text)
        if previous is not None:
            body["prev_hash"] = previous
        new_body = rewritten(body, **(changes if row_seq == seq else {}))
        previous = hash_body(new_body)
        set_row(url, row_seq, body=new_body, hash=previous)
    point_head_at_records(url)


def resign_everything(url: str, key: SigningKey) -> None:
    """Replace the head note and every stored checkpoint by ones signed with ``key``."""
    with database(url) as conn:
        head = conn.execute(select(head_table)).one()
        old = parse_checkpoint(head.note).checkpoint
        frontier = Frontier(head.seq, [bytes.fromhex(h) for h in json.loads(head.frontier)])
        forged = Checkpoint(old.origin, head.seq, frontier.root())
        note = sign_checkpoint(forged, [key], timestamp=1738314000)
        conn.execute(update(head_table).values(note=note))
        conn.execute(delete(checkpoints_table))


def corrupt_signature(note: str) -> str:
    """``note`` with its first signature's last byte flipped."""
    body, _, signatures = note.partition("\n\n")
    first, *rest = signatures.splitlines()
    prefix, _, encoded = first.rpartition(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    lines = [f"{prefix} {base64.b64encode(bytes(raw)).decode()}", *rest]
    return body + "\n\n" + "\n".join(lines) + "\n"


def corrupt_head_signature(url: str) -> None:
    """Flip a bit of the head note's signature."""
    with database(url) as conn:
        note = conn.execute(select(head_table.c.note)).scalar_one()
        conn.execute(update(head_table).values(note=corrupt_signature(note)))


def corrupt_checkpoint_signatures(url: str) -> None:
    """Flip a bit of every stored checkpoint's signature."""
    with database(url) as conn:
        for row in conn.execute(select(checkpoints_table.c.id, checkpoints_table.c.note)).all():
            conn.execute(
                update(checkpoints_table)
                .where(checkpoints_table.c.id == row.id)
                .values(note=corrupt_signature(row.note))
            )


def roll_head_back_to(url: str, note: str) -> None:
    """Make the head row say what an older signed checkpoint said (after a truncation)."""
    checkpoint = parse_checkpoint(note).checkpoint
    point_head_at_records(url)
    last_hash = next(row[1] for row in rows(url) if row[0] == checkpoint.size)
    with database(url) as conn:
        conn.execute(update(head_table).values(note=note, seq=checkpoint.size, hash=last_hash))
        conn.execute(delete(checkpoints_table).where(checkpoints_table.c.size > checkpoint.size))
