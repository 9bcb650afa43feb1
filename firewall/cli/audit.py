"""``firewall audit``: verify, show, export, prove; keys, checkpoints and erasure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from firewall.approvals.journal import DecisionJournal, adopt_journal
from firewall.approvals.store import SqlApprovalStore
from firewall.audit.bundle import latest_note
from firewall.audit.erasure import erase_everywhere
from firewall.audit.findings import VerifyReport
from firewall.audit.keyfiles import (
    WriterKeys,
    default_key_name,
    default_public_keys,
    generate_key_pair,
    key_file_stem,
    write_public_key_file,
)
from firewall.audit.keys import SigningKey
from firewall.audit.mirror import mirror_checkpoint
from firewall.audit.proofs import (
    ProofCheck,
    build_consistency,
    build_inclusion,
    read_proof,
    rotation_statements,
    tlog_proof_text,
)
from firewall.audit.render import print_report, render_records, reveal_references
from firewall.audit.settings import CheckpointPolicy
from firewall.audit.showing import show_records
from firewall.audit.sources import leaves_and_body, open_source, rotation_records
from firewall.audit.store import SqlAuditLog
from firewall.audit.verify import Trust, verify_bundle, verify_store
from firewall.cli.common import (
    DEFAULT_DATA_DIR,
    ConfigOption,
    DataDirOption,
    DbOption,
    existing_sqlite_url,
    load_optional_config,
    store_url,
)
from firewall.config import FirewallConfig
from firewall.errors import AuditError, FirewallError, StoreError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="Verify and inspect the audit chain.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
BundleOption = Annotated[
    Path | None, typer.Option("--bundle", help="Read an exported bundle instead of a database.")
]
PublicKeysOption = Annotated[
    list[Path] | None,
    typer.Option("--public-key", help="A trusted public key file (repeatable)."),
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="The writer's private key (default: $FIREWALL_AUDIT_KEY_FILE, or a dev key).",
    ),
]
OutFileOption = Annotated[
    Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")
]
CheckpointEveryOption = Annotated[
    int | None,
    typer.Option(
        "--checkpoint-every",
        min=1,
        help="The writers' [audit] checkpoints.every_records (default: --config's, or 1000).",
    ),
]
CheckpointSecondsOption = Annotated[
    float | None,
    typer.Option(
        "--checkpoint-seconds",
        min=0.001,
        help="The writers' [audit] checkpoints.every_seconds (default: --config's, or 300).",
    ),
]
UNREADABLE = 2
_ERRORS = (FirewallError, OSError, ValueError)


@app.command()
def verify(
    *,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    bundle: BundleOption = None,
    public_key: PublicKeysOption = None,
    trusted_checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--trusted-checkpoint", help="A checkpoint you kept earlier (repeatable)."),
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option("--max-age", help="Report a stale head if nothing was signed for S seconds."),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        typer.Option("--witness-key", help="A witness's cosignature/v1 vkey file (repeatable)."),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option("--witness-quorum", min=0, help="Witness cosignatures required (default 1)."),
    ] = None,
    checkpoint_every: CheckpointEveryOption = None,
    checkpoint_seconds: CheckpointSecondsOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check hashes, links, signatures, checkpoints, and that every decision of the approval
    store is on the chain; exit 0 valid, 1 tampered, 2 inconclusive."""
    console = _console()
    try:
        loaded = load_optional_config(config)
        log_url, approvals_url = _urls(loaded, db, data_dir)
    except FirewallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(UNREADABLE) from exc
    cadence = _cadence(loaded, checkpoint_every, checkpoint_seconds)
    url = None if bundle else log_url
    keys = _trusted_keys(public_key, url, None if as_json else console)
    try:
        trust = Trust.from_files(
            keys,
            trusted_checkpoint or [],
            max_age,
            witness_keys=witness_key or [],
            witness_quorum=witness_quorum,
            cadence=cadence,
        )
    except AuditError as exc:
        report = VerifyReport(status="inconclusive", error=str(exc))
    else:
        report = (
            verify_bundle(bundle, trust)
            if bundle
            else verify_store(str(url), trust, approvals_url)
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report, console)
    raise typer.Exit(int(report.exit_status))


@app.command()
def show(
    *,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    call_id: Annotated[str | None, typer.Option("--call-id", help="Only this call.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the last N records.")] = 50,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Decrypt personal values (operators only).")
    ] = False,
    public_key: PublicKeysOption = None,
    checkpoint_every: CheckpointEveryOption = None,
    checkpoint_seconds: CheckpointSecondsOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify the log, then print its last verified records (or one call's).

    A record is shown only if it verifies (signed by a trusted key, before any record
    found bad); a call's records are found by the call id the signed record holds.
    Exit 0 if the whole log verifies, else verify's status (what was withheld, on stderr).
    """
    with _failing_cleanly():
        loaded = load_optional_config(config)
        cadence = _cadence(loaded, checkpoint_every, checkpoint_seconds)
        url, _ = _urls(loaded, db, data_dir)
        keys = _trusted_keys(public_key, url, None)
        trust = Trust.from_files(keys, cadence=cadence)
        shown = show_records(url, trust, call_id, limit)
        dumped = [record.model_dump(mode="json") for record in shown.records]
        if reveal:
            with SqlAuditLog(url, create=False) as log:
                dumped = [reveal_references(item, log.reveal) for item in dumped]
    if as_json or reveal:
        typer.echo(json.dumps(dumped, indent=2))
    else:
        _console().print(render_records(shown.records))
    report = shown.report
    if shown.withheld:
        typer.echo(
            f"withheld {shown.withheld} record(s) after seq {report.verified_through}: "
            "not verified",
            err=True,
        )
    if not report.valid:
        typer.echo(report.summary(), err=True)
    raise typer.Exit(int(report.exit_status))


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for NAME.key and NAME.pub.")],
    name: Annotated[str | None, typer.Option("--name", help="Key name (default: dated).")] = None,
) -> None:
    """Create an Ed25519 signing key (mode 0600) and its public key, for auditors to keep."""
    with _failing_cleanly():
        private_path, public_path, key = generate_key_pair(out, name)
    typer.echo(f"private key: {private_path} (mode 0600: give it to the writers only)")
    typer.echo(f"public key:  {public_path} (give it to auditors)")
    typer.echo(key.verifier.text())


@app.command("rotate-key")
def rotate_key(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    key_file: KeyFileOption = None,
    name: Annotated[str | None, typer.Option("--name", help="New key name.")] = None,
) -> None:
    """Replace the writer's key: the old key endorses the new one in the chain."""
    with _failing_cleanly(), _writer(db, data_dir, key_file) as log:
        keys = log.writer_keys
        old, path = keys.signing.verifier.key_id, keys.path
        new_key = SigningKey.generate(default_key_name() if name is None else name)
        record = log.rotate_key(new_key)
        if path is not None:
            public = path.with_name(f"{key_file_stem(new_key.name)}.pub")
            write_public_key_file(public, new_key.verifier)
    typer.echo(f"rotated {old} -> {new_key.verifier.key_id} (record seq {record.seq})")
    typer.echo(f"new public key: {new_key.verifier.text()}")


@app.command()
def erase(
    subject: Annotated[str, typer.Option("--subject", help="The data subject, e.g. customer:123.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    key_file: KeyFileOption = None,
    approvals_db: Annotated[
        str | None,
        typer.Option(
            "--approvals-db", help="The approval store's URL (default: the same database)."
        ),
    ] = None,
) -> None:
    """Destroy a subject's keys (audit log and holds), scrub the database files, report.

    Exits 1 with NOT DONE if the files could not be vouched for (run it again).
    """
    url = store_url(db, data_dir)
    same = approvals_db in {None, url}
    with (
        _failing_cleanly(),
        _writer(db, data_dir, key_file) as log,
        SqlApprovalStore(approvals_db or url) as holds,
    ):
        result = erase_everywhere(log, holds, subject, same_database=same)
    typer.echo("\n".join(result.lines()))
    if not result.complete:
        raise typer.Exit(1)


@app.command()
def checkpoint(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    key_file: KeyFileOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also copy it into this directory.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Adopt approvers' journaled decisions, then sign and store a checkpoint of the head now
    (run it from cron for idle logs)."""
    with _failing_cleanly():
        loaded = load_optional_config(config)
        url, approvals_url = _urls(loaded, db, data_dir)
        key_file = key_file or (loaded.audit.key_file if loaded else None)
        keys = WriterKeys.from_file(key_file) if key_file else None
        with SqlAuditLog(url, keys=keys) as log:
            adopted = _adopt(approvals_url, log)
            note = log.checkpoint()
        if note is not None and out is not None:
            mirror_checkpoint(out, note)
    if adopted:
        typer.echo(f"adopted {adopted} journaled decision(s) onto the chain", err=True)
    typer.echo(note or "", nl=False)


def _urls(config: FirewallConfig | None, db: str | None, data_dir: Path | None) -> tuple[str, str]:
    """The audit log's URL and the approval store's: ``--db``/``--data-dir``, else the config's."""
    if db or data_dir or config is None:
        url = db or existing_sqlite_url(data_dir or DEFAULT_DATA_DIR)  # never made here
        return url, url
    return config.storage.audit(), config.storage.approvals()


def _adopt(approvals_url: str, log: SqlAuditLog) -> int:
    """Put the decision journal's new entries on the chain; 0 without an approval store."""
    try:
        store = SqlApprovalStore(approvals_url, create=False)
    except StoreError:
        return 0
    with store:
        return adopt_journal(DecisionJournal(store), log)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="A new directory for the bundle.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write a bundle that verifies offline: records, checkpoints, no personal values."""
    with _failing_cleanly(), SqlAuditLog(store_url(db, data_dir), create=False) as log:
        manifest = log.export(out)
    typer.echo(
        f"exported {manifest.records} records and {manifest.checkpoints} checkpoints to {out}"
    )


@app.command()
def prove(
    seq: Annotated[int, typer.Argument(min=1, help="The record to prove.")],
    *,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    bundle: BundleOption = None,
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="Prove against this checkpoint.")
    ] = None,
    out: OutFileOption = None,
    proof_format: Annotated[
        str,
        typer.Option(
            "--format", help="json (with key-rotation statements) or tlog-proof (C2SP)."
        ),
    ] = "json",
) -> None:
    """Emit an inclusion proof of record SEQ against a signed checkpoint."""
    url = None if bundle else store_url(db, data_dir)
    with _failing_cleanly(), open_source(url, bundle) as source:
        note = _read(checkpoint_file) if checkpoint_file else latest_note(source.notes())
        leaves, body = leaves_and_body(source, seq)
        if body is None:
            raise AuditError(f"the log has no record {seq}")
        proof = build_inclusion(seq, body, leaves, note)
        notes = [text for _, text in source.notes()]
        rotations = rotation_statements(rotation_records(source), notes, leaves)
        proof = proof.model_copy(update={"rotations": rotations})
        if proof_format not in {"json", "tlog-proof"}:
            raise AuditError(f"unknown proof format {proof_format!r}: use json or tlog-proof")
        text = proof.model_dump_json(indent=2)
        _emit(tlog_proof_text(proof).rstrip("\n") if proof_format == "tlog-proof" else text, out)


@app.command("prove-consistency")
def prove_consistency(
    old: Annotated[Path, typer.Option("--old", help="The older checkpoint.")],
    *,
    new: Annotated[
        Path | None, typer.Option("--new", help="The newer checkpoint (default: latest).")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    bundle: BundleOption = None,
    out: OutFileOption = None,
) -> None:
    """Emit a proof that the log of the older checkpoint is a prefix of the newer one's."""
    url = None if bundle else store_url(db, data_dir)
    with _failing_cleanly(), open_source(url, bundle) as source:
        new_note = _read(new) if new else latest_note(source.notes())
        leaves, _ = leaves_and_body(source, None)
        proof = build_consistency(_read(old), new_note, leaves)
        notes = [text for _, text in source.notes()]
        rotations = rotation_statements(rotation_records(source), notes, leaves)
        proof = proof.model_copy(update={"rotations": rotations})
        _emit(proof.model_dump_json(indent=2), out)


@app.command("verify-proof")
def verify_proof(
    proof_file: Annotated[Path, typer.Argument(help="An inclusion or consistency proof.")],
    public_key: PublicKeysOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a proof offline; exit 0 valid, 1 invalid, 2 inconclusive (no trusted key)."""
    with _failing_cleanly():
        trust = Trust.from_files(public_key or [])
        text = _read(proof_file)
    try:
        result = read_proof(text, trust.keys)
    except (ValueError, AuditError) as exc:  # garbled: not a proof of anything
        result = ProofCheck(status="invalid", message=f"{proof_file} is not a valid proof: {exc}")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        typer.echo(f"{result.status.upper()}: {result.message}")
        if result.record is not None:
            record = result.record.model_dump(mode="json", exclude_defaults=True)
            typer.echo(json.dumps(record, indent=2))
    raise typer.Exit(result.exit_code)


def _trusted_keys(
    public_keys: list[Path] | None, url: str | None, console: Console | None
) -> list[Path]:
    """The keys given, or else the operator's local ones (said on ``console``)."""
    keys = list(public_keys or [])
    if not keys and url is not None and (found := default_public_keys(url)):
        keys = list(found)
        if console is not None:
            shown = ", ".join(str(path) for path in found)
            console.print(f"note: no --public-key given; trusting the local key(s) {shown}")
    return keys


def _cadence(
    config: FirewallConfig | None, every_records: int | None, every_seconds: float | None
) -> CheckpointPolicy:
    """The writers' checkpoint policy: the options, then ``config``'s, then the defaults."""
    policy = config.audit.checkpoints if config is not None else CheckpointPolicy()
    changes = {"every_records": every_records, "every_seconds": every_seconds}
    try:
        return CheckpointPolicy.model_validate(
            policy.model_dump() | {k: v for k, v in changes.items() if v is not None}
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _writer(db: str | None, data_dir: Path | None, key_file: Path | None) -> SqlAuditLog:
    keys = WriterKeys.from_file(key_file) if key_file else None
    return SqlAuditLog(store_url(db, data_dir), keys=keys)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
        return
    if not out.parent.is_dir():
        raise AuditError(f"cannot write {out}: directory {out.parent} does not exist")
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")


@contextmanager
def _failing_cleanly() -> Iterator[None]:
    """Turn expected errors into ``error: ...`` on stderr and exit status 2."""
    try:
        yield
    except _ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(UNREADABLE) from exc


def _console() -> Console:
    # Created per command so that output goes to the current stdout (and CliRunner).
    return Console(markup=False, highlight=False, soft_wrap=True)
