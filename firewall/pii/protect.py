"""Keep personal data out of what the model sees, and put real values back into args."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from firewall.pii.detect import Detector, PiiKind
from firewall.pii.rules import PiiMode, PiiRule
from firewall.pii.tokens import TOKEN, TokenScope, TokenSource, TokenVault

__all__ = ["PiiMode", "PiiRule", "Protector", "mask"]

COMMITMENT = re.compile(r"<([A-Z_]+)#([0-9a-f]{8})>")
PROTECTED = re.compile(f"{TOKEN.pattern}|{COMMITMENT.pattern}")
"""Tokens and commitments already in a text: left as they are when it is protected again."""


def mask(kind: PiiKind, value: str) -> str:
    """Keep just enough to recognise the value (domain of an email, last digits)."""
    if kind is PiiKind.EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind is PiiKind.IBAN:
        compact = value.replace(" ", "")
        return f"{compact[:4]}{'*' * (len(compact) - 6)}{compact[-2:]}"
    digits = [ch for ch in value if ch.isdigit()]
    if kind in (PiiKind.CARD, PiiKind.PHONE, PiiKind.NATIONAL_ID) and len(digits) > 4:
        return "*" * (len(digits) - 4) + "".join(digits[-4:])
    return "***"


class Protector:
    """Applies :class:`PiiRule` s to tool output and resolves tokens in arguments."""

    def __init__(
        self,
        vault: TokenVault,
        detector: Detector | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        self.vault = vault
        self._detector = detector or Detector()
        self._hash_key = hash_key or secrets.token_bytes(32)

    def protect(
        self, value: Any, scope: TokenScope, rule: PiiRule, source: TokenSource | None = None
    ) -> Any:
        """``value`` with personal data replaced as ``rule`` says (dicts, lists, strings).

        ``source`` is the tool (and its output's labels) that produced ``value``: it joins
        the provenance of every value tokenized here, and of every token already in it.
        """
        if isinstance(value, str):
            return self._protect_text(value, scope, rule, source)
        if isinstance(value, Mapping):
            return {
                key: self._protect_field(key, item, scope, rule, source)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.protect(item, scope, rule, source) for item in value]
        return value

    def _protect_field(
        self, key: Any, item: Any, scope: TokenScope, rule: PiiRule, source: TokenSource | None
    ) -> Any:
        mode = rule.fields.get(str(key))
        if mode is None or item is None:
            return self.protect(item, scope, rule, source)
        return self._replace(PiiKind.PERSONAL, str(item), mode, scope, source)

    def _protect_text(
        self, text: str, scope: TokenScope, rule: PiiRule, source: TokenSource | None
    ) -> str:
        """Protect the text between tokens and commitments (those are not data any more).

        A token already in the text was put there by whoever wrote it (a ticket may quote
        one): it stays as it is, but its value is now also known to come from ``source``.
        """
        parts, cursor = [], 0
        for marker in PROTECTED.finditer(text):
            parts.append(self._protect_span(text[cursor : marker.start()], scope, rule, source))
            parts.append(marker.group())
            if source is not None and TOKEN.fullmatch(marker.group()):
                self.vault.seen(scope, marker.group(), source)
            cursor = marker.end()
        parts.append(self._protect_span(text[cursor:], scope, rule, source))
        return "".join(parts)

    def _protect_span(
        self, text: str, scope: TokenScope, rule: PiiRule, source: TokenSource | None
    ) -> str:
        findings = self._detector.find(text) if text else []
        if not findings:
            return text
        parts, cursor = [], 0
        for finding in findings:
            parts.append(text[cursor : finding.start])
            mode = rule.mode_for(finding.kind)
            parts.append(self._replace(finding.kind, finding.value, mode, scope, source))
            cursor = finding.end
        parts.append(text[cursor:])
        return "".join(parts)

    def _replace(
        self,
        kind: PiiKind,
        value: str,
        mode: PiiMode,
        scope: TokenScope,
        source: TokenSource | None = None,
    ) -> str:
        if mode is PiiMode.KEEP:
            return value
        if mode is PiiMode.REDACT:
            return f"[{kind.value}]"
        if mode is PiiMode.MASK:
            return mask(kind, value)
        if mode is PiiMode.HASH:
            return self.commitment(kind, value)
        return self.vault.tokenize(scope, kind.value, value, source)

    def commitment(self, kind: PiiKind, value: str) -> str:
        """A stable, keyed, irreversible stand-in for ``value``, e.g. ``<EMAIL#3f9a0c1b>``."""
        tag = hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()[:8]
        return f"<{kind.value}#{tag}>"

    def restore(self, value: Any, scope: TokenScope) -> Any:
        """``value`` with every token replaced by its real value (TokenError if invalid)."""
        if isinstance(value, str):
            return TOKEN.sub(lambda match: self.vault.resolve(scope, match.group()), value)
        if isinstance(value, Mapping):
            return {key: self.restore(item, scope) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.restore(item, scope) for item in value]
        return value

    @staticmethod
    def has_tokens(value: Any) -> bool:
        """Whether any string inside ``value`` carries a token."""
        if isinstance(value, str):
            return TOKEN.search(value) is not None
        if isinstance(value, Mapping):
            return any(Protector.has_tokens(item) for item in value.values())
        if isinstance(value, list | tuple):
            return any(Protector.has_tokens(item) for item in value)
        return False
