"""The hand-off: the running tool asks for its per-call credential; nobody else can.

The gate sets a context variable around the tool's execution only, so the credential
reaches the tool implementation without passing through the agent, the model or the
tool's arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from firewall.credentials.vault import CallCredential, CredentialError

_current: ContextVar[CallCredential | None] = ContextVar("firewall_credential", default=None)


def current_credential() -> CallCredential:
    """The credential of the guarded call now running; CredentialError outside one."""
    credential = _current.get()
    if credential is None:
        raise CredentialError(
            "no credential here: only a tool that declares a credential gets one,"
            " and only while the firewall runs it"
        )
    return credential


@contextmanager
def handed_over(credential: CallCredential | None) -> Iterator[None]:
    """Make ``credential`` the current one for the duration of the block."""
    token = _current.set(credential)
    try:
        yield
    finally:
        _current.reset(token)
