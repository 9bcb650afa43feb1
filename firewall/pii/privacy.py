"""The gate's personal-data handling, in one place.

Three views of a call's data, each for one reader:

* the **tool** gets real values: tokens in the arguments are resolved (:meth:`restore_args`);
* the **policy and the audit log** get commitments: detected personal data becomes
  ``<EMAIL#3f9a0c1b>`` (keyed, irreversible); tokens stay tokens (:meth:`commitments`).
  Arguments the tool declares personal (identifiers a policy compares) reach the policy
  in clear and are sealed per data subject in the audit log (crypto-shredded on erasure);
* the **model** gets the tool's output with personal data tokenized (or redacted, masked,
  hashed) as the tool's :class:`PiiRule` and the policy's ``redact`` obligation say
  (:meth:`protect_output`); each tokenized value remembers the tool and its output labels;
* the **policy** also gets, for every token in the arguments, where its value came from
  (:meth:`provenance`), so untrusted content cannot choose where data goes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from firewall.errors import StoreError
from firewall.pii.detect import Detector, PiiKind
from firewall.pii.protect import Protector
from firewall.pii.provenance import provenance_view
from firewall.pii.rules import PiiMode, PiiRule
from firewall.pii.tokens import MemoryTokenVault, TokenScope, TokenSource, TokenVault
from firewall.types import ToolCall, ToolSpec

DEFAULT_TOKEN_TTL_S = 3600.0
OUTPUT_WITHHELD = "[tool output withheld: its personal data could not be protected]"
_COMMIT = PiiRule(mode=PiiMode.HASH)
_NO_SCOPE = TokenScope(tenant="", session_id="")  # commitments never tokenize
log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Privacy:
    """Resolves tokens for tools, commits personal data for policy and audit, protects output."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = _utc_now,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        default_rule: PiiRule | None = None,
        hash_key: bytes | None = None,
        detector: Detector | None = None,
        vault: TokenVault | None = None,
    ) -> None:
        self.vault: TokenVault = vault or MemoryTokenVault(clock, ttl_s=token_ttl_s)
        self.protector = Protector(
            self.vault, detector or Detector(), hash_key or secrets.token_bytes(32)
        )
        self.default_rule = default_rule or PiiRule()

    @staticmethod
    def scope(call: ToolCall) -> TokenScope:
        """Where the call's tokens are valid: its tenant's session."""
        return TokenScope(tenant=call.principal.tenant, session_id=call.session_id)

    def restore_args(self, call: ToolCall) -> dict[str, Any]:
        """The call's arguments with every token resolved (:class:`TokenError` if one is not)."""
        if not Protector.has_tokens(call.args):
            return dict(call.args)
        restored: dict[str, Any] = self.protector.restore(call.args, self.scope(call))
        return restored

    def provenance(self, call: ToolCall) -> dict[str, Any]:
        """``input.tokens`` and ``input.arg_sources``; :class:`TokenError` if a token is invalid."""
        scope = self.scope(call)
        return provenance_view(call.args, lambda token: self.vault.provenance(scope, token))

    def commitments(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``args`` with detected personal data (emails, cards, ...) committed, tokens kept.

        Arguments the tool spec declares personal (identifiers such as a customer id, which
        policies compare) stay in clear here; the audit log seals them per data subject.
        """
        committed: dict[str, Any] = self.protector.protect(dict(args), _NO_SCOPE, _COMMIT)
        return committed

    def commit(self, value: Any) -> Any:
        """Any JSON-like value with detected personal data committed (e.g. trusted facts)."""
        return self.protector.protect(value, _NO_SCOPE, _COMMIT)

    def protect_output(
        self, call: ToolCall, spec: ToolSpec | None, value: Any, redact: tuple[str, ...] = ()
    ) -> Any:
        """What the model may see of a tool's output (strings, mappings and lists inside)."""
        rule = spec.output_pii if spec and spec.output_pii else self.default_rule
        source = TokenSource.of(call.tool, spec.output_labels if spec else ())
        try:
            return self.protector.protect(
                value, self.scope(call), rule.with_redacted(redact), source
            )
        except StoreError as exc:
            # The tool ran; the model must not see its output unprotected, nor lose the
            # taint its labels would have added. It gets why, and may ask again.
            log.warning(
                "tool_output_withheld", call_id=call.call_id, tool=call.tool, error=str(exc)
            )
            return f"{OUTPUT_WITHHELD} ({exc})"

    def replayable(self, policy_input: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
        """The policy input as the audit log keeps it for replay: no args, no foreign subjects.

        The record's own ``args`` stand in for ``input.args`` (personal ones sealed per data
        subject, like every mention of ``known`` values). Session subjects that are not
        ``known`` (another customer read earlier) become commitments: equal stays equal,
        none equals a real id, so membership rules replay as they decided.
        """
        captured = {key: value for key, value in policy_input.items() if key != "args"}
        session = captured.get("session")
        if isinstance(session, Mapping):
            captured["session"] = self._session_for_replay(session, known)
        return captured

    def _session_for_replay(self, session: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
        history = [
            {**event, "subject": self._known_or_committed(event.get("subject"), known)}
            for event in session.get("history", ())
        ]
        subjects = {
            tool: [self._known_or_committed(subject, known) for subject in tool_subjects]
            for tool, tool_subjects in session.get("subjects", {}).items()
        }
        return {**session, "history": history, "subjects": subjects}

    def _known_or_committed(self, subject: object, known: set[str]) -> object:
        if not isinstance(subject, str) or subject in known:
            return subject
        return self.protector.commitment(PiiKind.PERSONAL, subject)
