"""The personal-data stage: resolve the model's tokens, commit personal data for the policy."""

from __future__ import annotations

from firewall.errors import StoreError
from firewall.pii.privacy import Privacy
from firewall.pii.tokens import TokenError
from firewall.stages.base import CallContext
from firewall.types import Deny, DenyCode


class PersonalData:
    """Refuse tokens from another session (or expired); prepare the policy's view of the args.

    The tool later gets the resolved values (:meth:`Privacy.restore_args`); the policy and
    the audit log get detected personal data as commitments, tokens left as they are, and
    the policy learns where each token's value came from (:meth:`Privacy.provenance`).
    """

    name = "personal_data"

    def __init__(self, privacy: Privacy) -> None:
        self._privacy = privacy

    def check(self, ctx: CallContext) -> Deny | None:
        try:
            ctx.restored_args = self._privacy.restore_args(ctx.call)
            ctx.provenance = self._privacy.provenance(ctx.call)
        except TokenError as exc:
            return ctx.deny(
                DenyCode.TOKEN_REFUSED, f"{exc}; pass only tokens this session was given"
            )
        except StoreError as exc:
            return ctx.deny(DenyCode.STORE_ERROR, f"{exc}; call refused")
        ctx.policy_args = self._privacy.commitments(ctx.call.args)
        return None
