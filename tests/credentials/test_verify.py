"""Capability tokens: minted for one approved call, refused for anything else."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from freezegun import freeze_time

from firewall.credentials.replay import MemoryReplayCache
from firewall.credentials.tokens import CapabilityMinter, SigningKey
from firewall.credentials.verify import CapabilityVerifier, TokenRejectedError, load_public_keys
from firewall.errors import ConfigError
from firewall.types import Principal, Risk, ToolCall, ToolSpec

REFUND = ToolSpec(name="issue_refund", scope="refunds:write", risk=Risk.HIGH, money_arg="amount")
ARGS = {"order_id": "o-42", "amount": 900, "reason": "damaged"}
CALL = ToolCall(
    tool="issue_refund",
    args=ARGS,
    principal=Principal(agent_id="bot-1", tenant="acme"),
    session_id="s-1",
)
KEY = SigningKey.generate()


def mint(ttl_s: int = 60, key: SigningKey = KEY) -> str:
    token, _ = CapabilityMinter(key, ttl_s=ttl_s).mint(CALL, REFUND, audience="payments")
    return token


def verifier(keys: Any = (KEY.public_key,), audience: str = "payments") -> CapabilityVerifier:
    return CapabilityVerifier(keys, MemoryReplayCache(), audience=audience)


def verify(
    token: str,
    check: CapabilityVerifier | None = None,
    *,
    tool: str = "issue_refund",
    scope: str = "refunds:write",
    args: Mapping[str, Any] = ARGS,
) -> Any:
    return (check or verifier()).verify(token, tool=tool, scope=scope, args=args)


def refusal(token: str, check: CapabilityVerifier | None = None, **kwargs: Any) -> str:
    with pytest.raises(TokenRejectedError) as caught:
        verify(token, check, **kwargs)
    return caught.value.code


def test_token_for_the_approved_call_is_accepted_with_its_claims() -> None:
    claims = verify(mint())
    assert (claims.tool, claims.scope, claims.call_id) == (
        "issue_refund",
        "refunds:write",
        CALL.call_id,
    )
    assert (claims.sub, claims.tenant, claims.aud) == ("bot-1", "acme", "payments")
    assert claims.constraints == {"money_arg": "amount", "max_amount": 900}
    assert claims.exp - claims.iat == 60
    assert claims.kid == KEY.kid


def test_wrong_args_are_refused() -> None:
    assert refusal(mint(), args={**ARGS, "amount": 901}) == "args_mismatch"
    assert refusal(mint(), args={**ARGS, "order_id": "o-43"}) == "args_mismatch"
    assert refusal(mint(), args={**ARGS, "extra": True}) == "args_mismatch"


def test_equal_args_in_another_key_order_are_accepted() -> None:
    reordered = dict(reversed(list(ARGS.items())))
    assert verify(mint(), args=reordered).call_id == CALL.call_id


def test_expired_token_is_refused() -> None:
    with freeze_time("2026-05-01 12:00:00") as clock:
        token = mint(ttl_s=60)
        clock.tick(59)
        assert verify(token).jti
        token = mint(ttl_s=60)
        clock.tick(60)
        assert refusal(token) == "expired"


def test_token_from_the_future_is_refused() -> None:
    with freeze_time("2026-05-01 12:00:00") as clock:
        token = mint()
        clock.tick(-5)
        assert refusal(token) == "not_yet_valid"


def test_replayed_token_is_refused() -> None:
    check, token = verifier(), mint()
    verify(token, check)
    assert refusal(token, check) == "replayed"


def test_a_refused_attempt_does_not_use_up_the_token() -> None:
    check, token = verifier(), mint()
    assert refusal(token, check, args={**ARGS, "amount": 1}) == "args_mismatch"
    assert verify(token, check).call_id == CALL.call_id


def test_wrong_scope_is_refused_and_wildcards_are_not_widened() -> None:
    assert refusal(mint(), scope="payments:write") == "wrong_scope"
    assert refusal(mint(), scope="refunds:admin") == "wrong_scope"


def test_wrong_tool_and_audience_are_refused() -> None:
    assert refusal(mint(), tool="charge_card") == "wrong_tool"
    assert refusal(mint(), verifier(audience="crm")) == "wrong_audience"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_bad_signature_is_refused() -> None:
    header, payload, signature = mint().split(".")
    flipped = bytes([unb64(signature)[0] ^ 1]) + unb64(signature)[1:]
    assert refusal(f"{header}.{payload}.{b64(flipped)}") == "bad_signature"


def test_a_payload_altered_after_signing_is_refused() -> None:
    header, payload, signature = mint().split(".")
    forged = unb64(payload).replace(b'"max_amount":900', b'"max_amount":9000')
    assert forged != unb64(payload)
    assert refusal(f"{header}.{b64(forged)}.{signature}") == "bad_signature"


def test_a_token_signed_by_an_untrusted_key_is_refused() -> None:
    assert refusal(mint(key=SigningKey.generate())) == "unknown_key"


def _claims_of(token: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(unb64(token.split(".")[1]))
    return loaded


def test_another_jwt_signed_by_the_same_key_is_not_a_capability() -> None:
    """An id token or session JWT the same key signed cannot pass as a capability."""
    header = {"kid": KEY.kid, "typ": "JWT"}
    other = jwt.encode(_claims_of(mint()), KEY._private, algorithm="EdDSA", headers=header)
    assert refusal(other) == "malformed"


def test_algorithm_confusion_is_refused() -> None:
    """``alg: none`` and HS256 keyed with the public key are refused before any check."""
    claims, public = _claims_of(mint()), KEY.public_pem().decode("ascii")
    header = {"kid": KEY.kid, "typ": "fw-capability+jwt"}
    unsigned = jwt.encode(claims, None, algorithm="none", headers=header)
    hs256 = b64(json.dumps({**header, "alg": "HS256"}).encode())
    assert refusal(unsigned) == "malformed"
    assert refusal(f"{hs256}.{mint().split('.')[1]}.{b64(public.encode())}") == "malformed"


def test_a_token_missing_a_registered_claim_is_refused() -> None:
    claims = {k: v for k, v in _claims_of(mint()).items() if k != "exp"}
    header = {"kid": KEY.kid, "typ": "fw-capability+jwt"}
    assert refusal(jwt.encode(claims, KEY._private, algorithm="EdDSA", headers=header)) == (
        "malformed"
    )


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "v1.e30.AA", "e30.e30.AA", "!!.e30.AA", "x" * 5000]
)
def test_malformed_tokens_are_refused(token: str) -> None:
    assert refusal(token) == "malformed"


def test_a_replay_cache_outage_refuses_the_token() -> None:
    class Down(MemoryReplayCache):
        def first_use(self, jti: str, ttl_s: int) -> bool:
            raise ConnectionError("redis down")

    check = CapabilityVerifier([KEY.public_key], Down(), audience="payments")
    assert refusal(mint(), check) == "replay_cache_unavailable"


def test_public_keys_load_from_pem_by_key_id() -> None:
    other = SigningKey.generate()
    keys = load_public_keys(KEY.public_pem() + other.public_pem())
    assert set(keys) == {KEY.kid, other.kid}
    assert verify(mint(), verifier(keys)).kid == KEY.kid


def test_signing_key_file_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "capability.pem"
    created = SigningKey.load(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(path).kid == created.kid
    assert load_public_keys((tmp_path / "capability.pem.pub").read_bytes()).keys() == {created.kid}
    assert repr(created) == f"SigningKey(kid={created.kid!r})"


def test_an_unreadable_signing_key_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "capability.pem"
    path.write_text("not a key", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the signing key"):
        SigningKey.load(path)


def test_the_verifier_imports_without_the_pipeline() -> None:
    """A downstream service imports the verifier alone: no gate, LangChain or SQL."""
    code = (
        "import sys, firewall.credentials.verify\n"
        "heavy = [m for m in sys.modules if m.startswith(('firewall.gate', 'langchain',"
        " 'sqlalchemy', 'firewall.audit', 'structlog'))]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


VERIFY_WITH_PYJWT_ALONE = """
import hashlib, json, sys
import jwt, rfc8785
token, public_pem, args = sys.argv[1], open(sys.argv[2], "rb").read(), json.loads(sys.argv[3])
assert jwt.get_unverified_header(token)["typ"] == "fw-capability+jwt"
claims = jwt.decode(token, public_pem, algorithms=["EdDSA"], audience="payments")
assert claims["args_digest"] == "sha256:" + hashlib.sha256(rfc8785.dumps(args)).hexdigest()
assert not [name for name in sys.modules if name.startswith("firewall")]
print(claims["tool"], claims["scope"], claims["call_id"], claims["constraints"]["max_amount"])
"""


def test_a_token_verifies_with_an_off_the_shelf_jwt_library_alone(tmp_path: Path) -> None:
    """PyJWT + RFC 8785 alone, no firewall import: as any language's JOSE library would."""
    public = tmp_path / "capability.pem.pub"
    public.write_bytes(KEY.public_pem())
    result = subprocess.run(
        [sys.executable, "-c", VERIFY_WITH_PYJWT_ALONE, mint(), str(public), json.dumps(ARGS)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert result.stdout.split() == ["issue_refund", "refunds:write", CALL.call_id, "900"]
