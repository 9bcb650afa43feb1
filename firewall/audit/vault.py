"""Personal data out of the chain: keyed commitments in records, encrypted values aside.

Each data subject (``principal.on_behalf_of``, e.g. ``customer:c-100``) gets a random
pseudonym and a random 256-bit key, kept in their own table. A personal value in an
event becomes the reference ``pd:<pseudonym>:<commitment>`` where the commitment is
HMAC-SHA256 under the subject's key of the value's canonical JSON; the value itself is
stored AES-256-GCM-encrypted under the same key, bound to its reference. Neither the
subject id nor any value appears in a chained record. Erasing the subject deletes the
key: the references still hash the same (the chain verifies), but nobody can open the
values or link the pseudonym to the person again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from firewall.audit.freetext import FreeText
from firewall.audit.jcs import canonical
from firewall.errors import AuditError

REFERENCE_PREFIX = "pd:"
REFERENCE_PATTERN = re.compile(r"pd:(s_[0-9a-f]{32}):([0-9a-f]{64})")
COMMIT_CONTEXT = b"agent-firewall/audit/commit/v1\n"
NONCE_BYTES = 12
MIN_MENTION = 3  # shorter values are not searched for in free text (too many false hits)


@dataclass(frozen=True)
class SubjectKey:
    """A data subject's pseudonym and key. ``subject`` is the raw id; never chained."""

    subject: str
    pseudonym: str
    key: bytes

    def __repr__(self) -> str:
        return f"SubjectKey(pseudonym={self.pseudonym!r}, key=<hidden>)"

    @classmethod
    def generate(cls, subject: str) -> SubjectKey:
        """A fresh random pseudonym and key for ``subject``."""
        return cls(subject, "s_" + secrets.token_hex(16), secrets.token_bytes(32))


@dataclass(frozen=True)
class SealedValue:
    """One personal value as stored: encrypted, addressed by its reference."""

    pseudonym: str
    commitment: str
    nonce: bytes
    ciphertext: bytes

    @property
    def reference(self) -> str:
        """``pd:<pseudonym>:<commitment>``, what the chained record holds."""
        return f"{REFERENCE_PREFIX}{self.pseudonym}:{self.commitment}"


def parse_reference(value: object) -> tuple[str, str] | None:
    """``(pseudonym, commitment)`` if ``value`` is a personal-data reference."""
    if not isinstance(value, str):
        return None
    match = REFERENCE_PATTERN.fullmatch(value)
    return (match.group(1), match.group(2)) if match else None


def commit(key: SubjectKey, value: Any) -> str:
    """The hex HMAC-SHA256 commitment to ``value`` under the subject's key."""
    return _commit_encoded(key, canonical(value).encode("utf-8"))


def _commit_encoded(key: SubjectKey, encoded: bytes) -> str:
    return hmac.new(key.key, COMMIT_CONTEXT + encoded, hashlib.sha256).hexdigest()


def seal_value(key: SubjectKey, value: Any) -> SealedValue:
    """Commit to ``value`` and encrypt it, bound to its reference."""
    encoded = canonical(value).encode("utf-8")
    commitment = _commit_encoded(key, encoded)
    nonce = secrets.token_bytes(NONCE_BYTES)
    reference = f"{REFERENCE_PREFIX}{key.pseudonym}:{commitment}".encode("ascii")
    ciphertext = AESGCM(key.key).encrypt(nonce, encoded, reference)
    return SealedValue(key.pseudonym, commitment, nonce, ciphertext)


def open_value(key: SubjectKey, sealed: SealedValue) -> Any:
    """Decrypt ``sealed`` and check it against its commitment."""
    try:
        plain = AESGCM(key.key).decrypt(
            sealed.nonce, sealed.ciphertext, sealed.reference.encode("ascii")
        )
    except InvalidTag as exc:
        raise AuditError(f"personal value {sealed.reference} fails authentication") from exc
    value = json.loads(plain)
    if not hmac.compare_digest(commit(key, value), sealed.commitment):
        raise AuditError(f"personal value {sealed.reference} does not match its commitment")
    return value


def subject_of(data: Mapping[str, Any]) -> str | None:
    """The data subject of event data: the principal's ``on_behalf_of``, else the call.

    A call with personal arguments, or with personal data in its free text (an e-mail
    address in a reason), and no ``on_behalf_of`` is its own subject (``call:<id>``).
    """
    principal = data.get("principal") or {}
    subject = principal.get("on_behalf_of") if isinstance(principal, dict) else None
    if isinstance(subject, str) and subject:
        return subject
    if _personal_args(data) or FreeText(()).has_personal_data(data):
        return f"call:{data.get('call_id') or 'unknown'}"
    return None


def protect(
    data: dict[str, Any], key: SubjectKey | None
) -> tuple[dict[str, Any], list[SealedValue]]:
    """``data`` with every personal value replaced by its reference, and the sealed values.

    Personal values are the subject (``on_behalf_of``), the personal arguments, and in
    the free text (see :mod:`firewall.audit.freetext`) every quote of those and every
    piece of detected personal data (e-mail addresses, phone numbers, ...).
    """
    if key is None:
        return data, []
    sealed: dict[str, SealedValue] = {}

    def reference(value: Any) -> str:
        sealed_value = seal_value(key, value)
        sealed.setdefault(sealed_value.commitment, sealed_value)
        return sealed_value.reference

    principal = data.get("principal")
    subject = principal.get("on_behalf_of") if isinstance(principal, dict) else None
    if isinstance(principal, dict) and subject:
        data = {**data, "principal": {**principal, "on_behalf_of": reference(subject)}}
    personal = _personal_args(data)
    args = dict(data["args"]) if personal else {}
    if personal:
        data = {**data, "args": args | {name: reference(args[name]) for name in personal}}
    mentions = sealed_mentions(subject, [args[name] for name in personal])
    data = FreeText(mentions).seal(data, reference)
    return data, list(sealed.values())


def sealed_mentions(subject: Any, personal_values: list[Any]) -> set[str]:
    """The texts :func:`protect` replaces wherever a record quotes them.

    The data subject (``customer:c-100`` and ``c-100``) and the personal argument values,
    if long enough to search for.
    """
    mentions = [str(subject), str(subject).rsplit(":", 1)[-1]] if subject else []
    mentions += [value for value in personal_values if isinstance(value, str)]
    return {mention for mention in mentions if len(mention) >= MIN_MENTION}


def _personal_args(data: Mapping[str, Any]) -> list[str]:
    args = data.get("args")
    if not isinstance(args, dict):
        return []
    return [name for name in data.get("personal_args") or () if name in args]
