"""Every error the firewall raises derives from :class:`FirewallError`.

Errors carry structured attributes so callers never parse messages. None of them
ever carries a secret: messages name fields and rules, never values of credentials.
"""

from __future__ import annotations


class FirewallError(Exception):
    """Base class of all firewall errors."""


class ConfigError(FirewallError):
    """The configuration is invalid; ``key`` names the (first) offending setting.

    ``problems`` lists every ``(key, message)`` found, so a bad file is fixed in one go.
    """

    def __init__(self, key: str, message: str, *, more: tuple[tuple[str, str], ...] = ()) -> None:
        self.problems = ((key, message), *more)
        if more:
            lines = "\n".join(f"  at {k!r}: {m}" for k, m in self.problems)
            super().__init__(f"{len(self.problems)} config errors:\n{lines}")
        else:
            super().__init__(f"config error at {key!r}: {message}")
        self.key = key
        self.detail = message


class MissingDependencyError(FirewallError):
    """An optional driver is not installed; the message says which extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with: pip install 'agent-firewall[{extra}]'"
        )
        self.package = package
        self.extra = extra


class PolicyError(FirewallError):
    """The policy engine could not produce a decision (compile error, engine down...)."""


class MalformedDecisionError(PolicyError):
    """The policy returned something that is not a valid decision document."""


class StoreError(FirewallError):
    """A durable store (audit log, approval store) could not answer."""


class SessionStoreError(StoreError):
    """The shared session store could not read or record a session."""


class AuditError(StoreError):
    """The audit log could not append or read a record."""


class DuplicateCallError(FirewallError):
    """A call id already names another held call of the same tenant, session and agent.

    Raised by an approval store instead of placing a second hold; ``hold_id`` is the hold
    of the call that owns the id.
    """

    def __init__(self, call_id: str, hold_id: str) -> None:
        super().__init__(
            f"call id {call_id!r} already names another call in this session (held as"
            f" {hold_id}); each call needs its own id"
        )
        self.call_id = call_id
        self.hold_id = hold_id


class ApprovalError(FirewallError):
    """An approval or denial was refused; ``code`` says why, machine-readably.

    Codes: ``unknown_hold``, ``not_pending``, ``expired``, ``self_approval``,
    ``not_an_approver``, ``already_approved``, ``digest_mismatch``, ``already_used``.
    """

    def __init__(self, code: str, message: str, *, hold_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.hold_id = hold_id
