"""Key files: generate, read (mode 0600 enforced), rotate, and find the writer's key.

A private key file holds the active key's line, then the public lines of the keys it
replaced (a writer accepts a head signed by any of them, so writers not yet restarted
after a rotation keep working). A ``.pub`` file holds verifier key lines.

The writer's key comes from, in order: an explicit path, ``FIREWALL_AUDIT_KEY_FILE``, or a
*development* key in ``audit-keys/dev.key`` next to a SQLite database, which exists only
if someone opted into one (``ensure_dev_key``, used by the demo). Otherwise the writer
refuses to start: an unsigned log is not an audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import structlog

from firewall.audit.engine import parse_url
from firewall.audit.keys import SigningKey, VerifierKey
from firewall.errors import AuditError

KEY_FILE_ENV = "FIREWALL_AUDIT_KEY_FILE"
DEV_KEY_DIR = "audit-keys"
DEV_KEY_NAME = "dev"
HANDOFF_CONTEXT = b"agent-firewall/audit/handoff/v1"
log = structlog.get_logger("firewall.audit")


def default_key_name() -> str:
    """``firewall-audit-<date>-<random>``: unique enough to tell rotated keys apart."""
    return f"firewall-audit-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


class WriterKeys:
    """The key a writer signs with, and every public key whose head it accepts."""

    def __init__(
        self,
        signing: SigningKey,
        previous: Sequence[VerifierKey] = (),
        path: Path | None = None,
    ) -> None:
        self.signing = signing
        self.previous = tuple(previous)
        self.path = path
        self._stamp = _stamp(path) if path else None
        self._handoff_keys = [_handoff_key(signing)]

    @classmethod
    def from_file(cls, path: Path) -> WriterKeys:
        """Read a private key file; refuse one that others can read."""
        signing, previous = read_private_key_file(path)
        return cls(signing, previous, path)

    @property
    def handoff_keys(self) -> tuple[bytes, ...]:
        """MAC keys for events handed between writers: the current key's first."""
        return tuple(self._handoff_keys)

    @property
    def accepted(self) -> tuple[VerifierKey, ...]:
        """The active key's public half, then the keys it replaced."""
        return (self.signing.verifier, *self.previous)

    def refresh(self) -> bool:
        """Reload the key file if it changed on disk (after a rotation); True if reloaded."""
        if self.path is None or _stamp(self.path) == self._stamp:
            return False
        fresh = WriterKeys.from_file(self.path)
        self.signing, self.previous, self._stamp = fresh.signing, fresh.previous, fresh._stamp
        # Events this process handed off under the old key must still be accepted.
        self._handoff_keys.insert(0, _handoff_key(self.signing))
        return True


def _stamp(path: Path) -> tuple[int, int, int]:
    """What changes when a key file is replaced: its inode, size and modification time."""
    try:
        status = path.stat()
    except OSError as exc:  # deleted or moved away: refuse to sign, and say which file
        raise AuditError(f"cannot read audit key file {path}: {type(exc).__name__}") from exc
    return status.st_ino, status.st_size, status.st_mtime_ns


def _handoff_key(key: SigningKey) -> bytes:
    return hmac.new(key.seed, HANDOFF_CONTEXT, hashlib.sha256).digest()


def read_private_key_file(path: Path) -> tuple[SigningKey, tuple[VerifierKey, ...]]:
    """The active key and the previous public keys in ``path``."""
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise AuditError(
                f"audit key file {path} is readable by others (mode {mode & 0o777:o}); "
                f"run: chmod 600 {path}"
            )
        lines = _key_lines(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read audit key file {path}: {type(exc).__name__}") from exc
    if not lines:
        raise AuditError(f"audit key file {path} is empty")
    return SigningKey.parse(lines[0]), tuple(VerifierKey.parse(line) for line in lines[1:])


def read_public_keys(path: Path) -> tuple[VerifierKey, ...]:
    """Every verifier key line in ``path``."""
    try:
        lines = _key_lines(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read public key file {path}: {type(exc).__name__}") from exc
    if not lines:
        raise AuditError(f"public key file {path} holds no key")
    return tuple(VerifierKey.parse(line) for line in lines)


def write_private_key_file(
    path: Path, key: SigningKey, previous: Sequence[VerifierKey] = (), *, replace: bool = False
) -> None:
    """Write ``key`` (and the keys it replaces) to ``path`` with mode 0600, whole or not
    at all: a failed write leaves no file behind. Without ``replace``, never overwrites."""
    text = "".join(f"{line}\n" for line in [key.text(), *(k.text() for k in previous)])
    if not replace and path.exists():
        raise AuditError(f"{path} already exists; not overwriting a key")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if a key appeared there meanwhile
    except FileExistsError as exc:
        raise AuditError(f"{path} already exists; not overwriting a key") from exc
    except OSError as exc:
        raise AuditError(f"cannot write key file {path}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def key_file_stem(name: str) -> str:
    """A file name for key ``name``: percent-encoded, so ``/`` or ``..`` never make a path."""
    stem = quote(name, safe="")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


def generate_key_pair(out_dir: Path, name: str | None = None) -> tuple[Path, Path, SigningKey]:
    """Create ``<name>.key`` (0600) and ``<name>.pub`` in ``out_dir`` (name percent-encoded).

    Either both files are written or neither: a failure leaves nothing to block a retry.
    """
    key = SigningKey.generate(default_key_name() if name is None else name)
    stem = key_file_stem(key.name)
    private_path, public_path = out_dir / f"{stem}.key", out_dir / f"{stem}.pub"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if public_path.exists():
            raise AuditError(f"{public_path} already exists; not overwriting a key")
    except OSError as exc:
        raise AuditError(f"cannot write keys into {out_dir}: {exc}") from exc
    write_private_key_file(private_path, key)
    try:
        write_public_key_file(public_path, key.verifier)
    except AuditError:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path, key


def write_public_key_file(path: Path, key: VerifierKey) -> None:
    """Write the verifier key line of ``key`` to ``path`` atomically."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(key.text() + "\n", encoding="ascii")
        os.replace(temporary, path)
    except OSError as exc:
        raise AuditError(f"cannot write public key file {path}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def sqlite_directory(url: str) -> Path | None:
    """The directory of a SQLite database file, or None for other URLs."""
    parsed = parse_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in {"", ":memory:"}:
        return None
    if database.startswith("file:"):
        return None
    return Path(database).resolve().parent


def dev_key_path(data_dir: Path) -> Path:
    """Where a development key lives for the SQLite stores in ``data_dir``."""
    return data_dir / DEV_KEY_DIR / f"{DEV_KEY_NAME}.key"


def ensure_dev_key(data_dir: Path) -> Path:
    """Create the development key of ``data_dir`` if missing (explicit opt-in only)."""
    path = dev_key_path(data_dir)
    if not path.exists():
        generate_key_pair(path.parent, DEV_KEY_NAME)
        log.warning("audit_dev_key_created", path=str(path))
    return path


def resolve_writer_keys(url: str, key_file: Path | None = None) -> WriterKeys:
    """The writer's keys for the log at ``url``; :class:`AuditError` if there are none."""
    env_path = os.environ.get(KEY_FILE_ENV)
    if key_file is None and env_path:
        key_file = Path(env_path)
    directory = sqlite_directory(url)
    if key_file is None and directory is not None and dev_key_path(directory).exists():
        key_file = dev_key_path(directory)
    if key_file is None:
        raise AuditError(
            "no audit signing key: set FIREWALL_AUDIT_KEY_FILE (create one with "
            "`firewall audit keygen --out DIR`) or configure [audit] key_file"
        )
    return WriterKeys.from_file(key_file)


def default_public_keys(url: str) -> tuple[Path, ...]:
    """Public keys an operator's own ``verify`` trusts when given none (auditors pass theirs).

    The ``.pub`` files beside ``$FIREWALL_AUDIT_KEY_FILE`` (``keygen`` writes them there),
    else those of a development key next to a SQLite database.
    """
    env_path = os.environ.get(KEY_FILE_ENV)
    if env_path:
        return tuple(sorted(Path(env_path).parent.glob("*.pub")))
    directory = sqlite_directory(url)
    if directory is None:
        return ()
    return tuple(sorted((directory / DEV_KEY_DIR).glob("*.pub")))


def _key_lines(text: str) -> list[str]:
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]
