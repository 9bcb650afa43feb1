"""The hand-off: only code running inside the guarded call sees its credential."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from firewall.credentials.context import current_credential, handed_over
from firewall.credentials.vault import CallCredential, CredentialError


def credential(call_id: str = "call_1") -> CallCredential:
    now = datetime.now(UTC)
    return CallCredential(
        name="crm",
        tool="crm_lookup",
        scope="crm:read",
        call_id=call_id,
        issued_at=now,
        expires_at=now + timedelta(seconds=60),
        secret=SecretStr("crm-secret-value"),
    )


def test_outside_a_guarded_call_there_is_no_credential() -> None:
    with pytest.raises(CredentialError, match="only while the firewall runs it"):
        current_credential()


def test_credential_is_current_only_inside_the_block() -> None:
    with handed_over(credential()):
        assert current_credential().call_id == "call_1"
    with pytest.raises(CredentialError):
        current_credential()


def test_handing_over_none_hides_an_outer_credential() -> None:
    with handed_over(credential()), handed_over(None), pytest.raises(CredentialError):
        current_credential()


async def test_concurrent_tasks_each_see_their_own_credential() -> None:
    async def tool(call_id: str) -> str:
        with handed_over(credential(call_id)):
            await asyncio.sleep(0.01)
            return current_credential().call_id

    assert await asyncio.gather(tool("call_a"), tool("call_b")) == ["call_a", "call_b"]


async def test_worker_threads_started_inside_the_call_inherit_it() -> None:
    with handed_over(credential("call_t")):
        seen = await asyncio.to_thread(lambda: current_credential().call_id)
    assert seen == "call_t"
