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
from firewall.audit.findings import VerifyReport
from firewall.audit.keyfiles import (
    WriterKeys,
    default_key_name,
    default_public_keys,
    generate_key_pair,
)
from firewall.audit.keys import SigningKey
from firewall.audit.mirror import mirror_checkpoint
from firewall.audit.proofs import build_consistency, build_inclusion, check_proof
from firewall.audit.render import print_report, render_records, reveal_references
from firewall.audit.sources import leaves_and_body, open_source
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
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Check hashes, links, signatures, checkpoints, and that every decision of the approval
    store is on the chain; exit 0 valid, 1 tampered, 2 inconclusive."""
    console = _console()
    keys = list(public_key or [])
    try:
        log_url, approvals_url = _urls(load_optional_config(config), db, data_dir)
    except FirewallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(UNREADABLE) from exc
    url = None if bundle else log_url
    if not keys and url is not None and (found := default_public_keys(url)):
        keys = list(found)
        if not as_json:
            shown = ", ".join(str(path) for path in found)
            console.print(f"note: no --public-key given; trusting the local key(s) {shown}")
    try:
        trust = Trust.from_files(keys, trusted_checkpoint or [], max_age)
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
    as_json: JsonOption = False,
) -> None:
    """Print the last records of the log (or of one call)."""
    url = store_url(db, data_dir)
    with _failing_cleanly():
        with SqlAuditLog(url, create=False) as log:
            records = log.last_records(limit, call_id)
        dumped = [record.model_dump(mode="json") for record in records]
        if reveal:
            with SqlAuditLog(url, create=False) as log:
                dumped = [reveal_references(item, log.reveal) for item in dumped]
    if as_json or reveal:
        typer.echo(json.dumps(dumped, indent=2))
    else:
        _console().print(render_records(records))


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
        new_key = SigningKey.generate(name or default_key_name())
        record = log.rotate_key(new_key)
        if path is not None:
            path.with_name(f"{new_key.name}.pub").write_text(new_key.verifier.text() + "\n")
    typer.echo(f"rotated {old} -> {new_key.verifier.key_id} (record seq {record.seq})")
    typer.echo(f"new public key: {new_key.verifier.text()}")


@app.command()
def erase(
    subject: Annotated[str, typer.Option("--subject", help="The data subject, e.g. customer:123.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Destroy a subject's key (their values become unreadable) and record the erasure."""
    with _failing_cleanly(), _writer(db, data_dir, key_file) as log:
        erasure = log.erase(subject)
    if erasure is None:
        typer.echo(f"no personal data held for {subject}; nothing erased")
        return
    typer.echo(
        f"erased {subject}: pseudonym {erasure.pseudonym}, {erasure.values_deleted} value(s) "
        f"destroyed; erasure recorded at seq {erasure.record.seq}"
    )


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
) -> None:
    """Emit an inclusion proof of record SEQ against a signed checkpoint (JSON)."""
    url = None if bundle else store_url(db, data_dir)
    with _failing_cleanly(), open_source(url, bundle) as source:
        note = _read(checkpoint_file) if checkpoint_file else latest_note(source.notes())
        leaves, body = leaves_and_body(source, seq)
        if body is None:
            raise AuditError(f"the log has no record {seq}")
        proof = build_inclusion(seq, body, leaves, note)
    _emit(proof.model_dump_json(indent=2), out)


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
        result = check_proof(json.loads(_read(proof_file)), trust.keys)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        typer.echo(f"{result.status.upper()}: {result.message}")
        if result.record is not None:
            record = result.record.model_dump(mode="json", exclude_defaults=True)
            typer.echo(json.dumps(record, indent=2))
    raise typer.Exit(result.exit_code)


def _writer(db: str | None, data_dir: Path | None, key_file: Path | None) -> SqlAuditLog:
    keys = WriterKeys.from_file(key_file) if key_file else None
    return SqlAuditLog(store_url(db, data_dir), keys=keys)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
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
