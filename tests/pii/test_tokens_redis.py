"""Personal-data tokens shared by worker processes through Redis, values never in clear.

Issue 18: a conversation's calls may land on any worker. Two OS processes share the real
local Redis; Redis itself is read with plain commands; a throw-away redis-server is killed
to show calls needing a token are refused, audited, when the vault cannot answer.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from firewall.errors import ConfigError
from firewall.factory import build_firewall
from firewall.pii.privacy import OUTPUT_WITHHELD
from firewall.pii.tokens import TokenError, TokenScope, TokenSource
from firewall.pii.tokens_redis import RedisTokenVault
from tests.containment.helpers import OwnRedis, delete_prefix
from tests.pii.token_workers import (
    ADDRESS,
    KEY_ENV,
    lookup_output,
    mail_to,
    shared_config,
    show_address,
)

KEY = "7f" * 32
SCOPE = TokenScope(tenant="acme", session_id="conv-1")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"fwtok{uuid.uuid4().hex[:12]}"
    yield name
    delete_prefix(redis_url, name)


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def in_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a fresh OS process (spawned: nothing shared but the environment)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result(timeout=120)


def vault(url: str, prefix: str, key: str = KEY, ttl_s: float = 3600) -> RedisTokenVault:
    return RedisTokenVault(url, bytes.fromhex(key), ttl_s=ttl_s, key_prefix=prefix)


def test_a_token_shown_by_one_worker_process_reaches_the_tool_on_another(
    redis_url: str, prefix: str, key_env: str, tmp_path: Path
) -> None:
    """Worker A shows the address as a token; worker B mails it: the tool gets the address.

    The egress policy allows it only because B also sees where the value came from (a
    trusted CRM lookup on A): provenance is shared too.
    """
    token = in_process(show_address, redis_url, prefix, tmp_path / "a", "conv-1")
    assert token.startswith("<EMAIL_")
    assert ADDRESS not in token
    mailed = in_process(mail_to, redis_url, prefix, tmp_path / "b", "conv-1", token)
    assert mailed == {"outcome": "executed", "to": ADDRESS}


def test_another_conversation_cannot_use_the_token_on_any_worker(
    redis_url: str, prefix: str, key_env: str, tmp_path: Path
) -> None:
    token = in_process(show_address, redis_url, prefix, tmp_path / "a", "conv-1")
    mailed = in_process(mail_to, redis_url, prefix, tmp_path / "b", "conv-2", token)
    assert (mailed["outcome"], mailed["code"]) == ("deny", "token_refused")


def test_redis_holds_no_personal_value_in_clear(
    redis_url: str, prefix: str, key_env: str, tmp_path: Path
) -> None:
    in_process(show_address, redis_url, prefix, tmp_path / "a", "conv-1")
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    assert keys, "nothing was stored in Redis"
    dumped = b"".join(key + (client.dump(key) or b"") for key in keys)
    assert ADDRESS.encode() not in dumped
    assert b"dana.reyes" not in dumped


def test_a_worker_holding_another_key_cannot_open_the_tokens(redis_url: str, prefix: str) -> None:
    token = vault(redis_url, prefix).tokenize(SCOPE, "EMAIL", ADDRESS)
    with pytest.raises(TokenError):
        vault(redis_url, prefix, key="01" * 32).resolve(SCOPE, token)


def test_an_entry_copied_to_another_token_does_not_open(redis_url: str, prefix: str) -> None:
    """An operator moving ciphertexts between tokens (or scopes) gets nothing readable."""
    shared = vault(redis_url, prefix)
    mine = shared.tokenize(SCOPE, "EMAIL", ADDRESS)
    other_scope = TokenScope(tenant="acme", session_id="conv-2")
    theirs = shared.tokenize(other_scope, "EMAIL", "someone@example.org")
    client = redis.Redis.from_url(redis_url)
    client.set(f"{prefix}:tok:{theirs}", client.get(f"{prefix}:tok:{mine}") or b"")
    with pytest.raises(TokenError, match="another session"):
        shared.resolve(other_scope, theirs)


def test_every_worker_gives_one_value_one_token_and_shares_its_provenance(
    redis_url: str, prefix: str
) -> None:
    first, second = vault(redis_url, prefix), vault(redis_url, prefix)
    token = first.tokenize(SCOPE, "EMAIL", ADDRESS, TokenSource.of("crm_lookup"))
    assert (
        second.tokenize(SCOPE, "EMAIL", ADDRESS, TokenSource.of("read_ticket", ["untrusted"]))
        == token
    )
    assert second.resolve(SCOPE, token) == ADDRESS
    assert first.provenance(SCOPE, token) == {
        TokenSource.of("crm_lookup"),
        TokenSource.of("read_ticket", ["untrusted"]),
    }


def test_tokens_expire_in_redis(redis_url: str, prefix: str) -> None:
    short = vault(redis_url, prefix, ttl_s=0.5)
    token = short.tokenize(SCOPE, "EMAIL", ADDRESS)
    assert short.resolve(SCOPE, token) == ADDRESS
    time.sleep(0.8)
    with pytest.raises(TokenError, match="expired"):
        short.resolve(SCOPE, token)


def test_redis_down_refuses_a_call_with_a_token_audited_and_withholds_output(
    tmp_path: Path, key_env: str
) -> None:
    own = OwnRedis(tmp_path)
    own.start()
    try:
        token = show_address(own.url, "fwtok", tmp_path / "a", "conv-1")
    finally:
        own.kill()
    mailed = mail_to(own.url, "fwtok", tmp_path / "b", "conv-1", token)
    assert (mailed["outcome"], mailed["code"]) == ("deny", "store_error")
    assert "token vault unavailable" in mailed["message"]
    with sqlite3.connect(tmp_path / "b" / "firewall.db") as db:
        bodies = [
            json.loads(body)["entry"]
            for (body,) in db.execute("SELECT body FROM audit_records WHERE event = 'decision'")
        ]
    assert [(entry["tool"], entry["code"]) for entry in bodies] == [("send_email", "store_error")]
    shown = lookup_output(own.url, "fwtok", tmp_path / "c", "conv-1")
    assert shown.startswith(OUTPUT_WITHHELD)
    assert ADDRESS not in shown


def test_a_shared_vault_without_a_key_is_refused_at_start(tmp_path: Path, redis_url: str) -> None:
    config = shared_config(redis_url, "fwtok", tmp_path)
    keyless = config.model_copy(update={"pii": config.pii.model_copy(update={"token_key": None})})
    with pytest.raises(ConfigError, match="token_key"):
        build_firewall(keyless)


def test_a_token_key_that_is_not_32_hex_bytes_is_refused(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(ConfigError, match="token key"):
        build_firewall(shared_config(redis_url, "fwtok", tmp_path))
