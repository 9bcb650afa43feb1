"""The REST API for approvers outside Slack: list, show, approve and deny holds.

Every route needs ``Authorization: Bearer <token>``; the approver is whoever owns the
token (compared as SHA-256 digests in constant time), never a field of the body. Failed
authentications are throttled per client (see :mod:`.throttle`). A token's owner sees
only the holds they may decide and the holds of calls they requested, nobody else's.
The same rules as in Slack apply: group membership, no self-approval, quorum, one
decision per hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from firewall.approvals.masking import mask_args, mask_text
from firewall.approvals.models import HoldRecord, HoldState
from firewall.approvals.people import Approvers
from firewall.errors import ApprovalError, FirewallError
from firewall.service_config import approver_for_token
from firewall.types import Frozen

from .bodies import BodyRefusedError, read_capped
from .runtime import ServiceRuntime
from .throttle import AuthThrottle

MAX_BODY_BYTES = 16 * 1024
REFUSAL_STATUS = {
    "unknown_hold": 404,
    "not_an_approver": 403,
    "self_approval": 403,
    "already_approved": 403,
}
Handler = Callable[[Request, str], Awaitable[Response]]
B = TypeVar("B", bound=Frozen)


class ApproveBody(Frozen):
    """An approval carries nothing: who approves is the token's owner."""


class DenyBody(Frozen):
    """A denial may say why."""

    reason: Annotated[str, Field(max_length=500)] | None = None


def rest_routes(runtime: ServiceRuntime) -> list[Route]:
    """The ``/api/holds`` routes of the service."""
    api = _Api(runtime)
    return [
        Route("/api/holds", api.authenticated(api.list_holds), methods=["GET"]),
        Route("/api/holds/{hold_id}", api.authenticated(api.show), methods=["GET"]),
        Route("/api/holds/{hold_id}/approve", api.authenticated(api.approve), methods=["POST"]),
        Route("/api/holds/{hold_id}/deny", api.authenticated(api.deny), methods=["POST"]),
    ]


def hold_view(record: HoldRecord, personal: tuple[str, ...] = ()) -> dict[str, Any]:
    """A hold as approvers see it: personal data masked, secrets removed.

    Not the session id: it is the agent's conversation (thread) id, which may name a
    customer, and deciding needs none of it.
    """
    view = record.model_dump(mode="json", exclude={"args", "principal", "money_arg", "session_id"})
    principal = record.principal
    view["args"] = mask_args(record.args, personal)
    view["reasons"] = [mask_text(reason) for reason in record.reasons]
    view["decision_reason"] = mask_text(record.decision_reason) if record.decision_reason else None
    view["amount"] = record.amount
    view["principal"] = {
        "agent_id": principal.get("agent_id"),
        "tenant": principal.get("tenant"),
        "on_behalf_of": mask_text(str(principal["on_behalf_of"]))
        if principal.get("on_behalf_of")
        else None,
        "requested_by": principal.get("requested_by"),
    }
    return view


class _Api:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        tools = runtime.config.firewall.tools
        self._personal: Mapping[str, tuple[str, ...]] = {t.name: t.personal_args for t in tools}
        self._people = Approvers(runtime.approvals.groups, runtime.config.aliases())
        # The service holds no audit key: failures go to the journal the writer adopts.
        self._throttle = AuthThrottle(
            runtime.config.service.auth_failures_per_minute, runtime.metrics, runtime.journal
        )

    def authenticated(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else "unknown"
            path = request.url.path
            if wait_s := self._throttle.wait_s(client):
                await asyncio.to_thread(self._throttle.throttled, client, path, wait_s)
                return _throttled(wait_s)
            approver, failure = self._approver(request)
            if approver is None:
                await asyncio.to_thread(self._throttle.failed, client, path, failure)
                return _error(401, "unauthenticated", "a valid bearer token is required")
            return await handler(request, approver)

        return endpoint

    def visible(self, record: HoldRecord, approver: str) -> bool:
        """Whether ``approver`` may see ``record``: they may decide it, or requested it."""
        members = self._people.groups.get(record.approvers or "", frozenset())
        requester = record.principal.get("requested_by")
        mine = isinstance(requester, str) and self._people.among(approver, [requester])
        return mine or self._people.among(approver, members)

    async def list_holds(self, request: Request, approver: str) -> Response:
        state_name = request.query_params.get("state", "pending")
        try:
            state = None if state_name == "all" else HoldState(state_name)
        except ValueError:
            choices = ", ".join(["all", *(s.value for s in HoldState)])
            return _error(400, "bad_request", f"state must be one of: {choices}")
        try:
            records = await asyncio.to_thread(self._runtime.store.list, state)
        except FirewallError:
            return _unavailable()
        shown = [self._view(record) for record in records if self.visible(record, approver)]
        return JSONResponse({"holds": shown})

    async def show(self, request: Request, approver: str) -> Response:
        hold_id = request.path_params["hold_id"]
        try:
            record = await asyncio.to_thread(self._runtime.approvals.get, hold_id)
        except FirewallError:
            return _unavailable()
        if record is None or not self.visible(record, approver):
            return _error(404, "unknown_hold", f"there is no hold {hold_id!r}")
        return JSONResponse({"hold": self._view(record)})

    async def approve(self, request: Request, approver: str) -> Response:
        hold_id = request.path_params["hold_id"]
        problem = await _body(request, ApproveBody)
        if isinstance(problem, Response):
            return problem
        return await self._decide(
            hold_id, lambda: self._runtime.approvals.approve(hold_id, approver)
        )

    async def deny(self, request: Request, approver: str) -> Response:
        hold_id = request.path_params["hold_id"]
        body = await _body(request, DenyBody)
        if isinstance(body, Response):
            return body
        reason = (body.reason or "").strip() or None
        return await self._decide(
            hold_id, lambda: self._runtime.approvals.deny(hold_id, approver, reason)
        )

    async def _decide(self, hold_id: str, decide: Callable[[], HoldRecord]) -> Response:
        metrics = self._runtime.metrics
        try:
            with metrics.timed("rest"):
                record = await asyncio.to_thread(decide)
        except ApprovalError as exc:
            metrics.record("rest", None, exc.code)
            return _error(REFUSAL_STATUS.get(exc.code, 409), exc.code, str(exc))
        except FirewallError:
            metrics.record("rest", None, "unavailable")
            return _unavailable()
        metrics.record("rest", record, None)
        # The card follows after the answer: the approver (and the waiting agent) never
        # wait for Slack; the worker retries the card if this refresh fails.
        refresh = BackgroundTask(asyncio.to_thread, _refresh_card, self._runtime, hold_id)
        background = refresh if self._runtime.slack is not None else None
        return JSONResponse({"hold": self._view(record)}, background=background)

    def _approver(self, request: Request) -> tuple[str | None, str]:
        """The token's owner, or None and why not (``missing_token`` or ``bad_token``)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "missing_token"
        return approver_for_token(self._runtime.tokens, token.strip()), "bad_token"

    def _view(self, record: HoldRecord) -> dict[str, Any]:
        return hold_view(record, self._personal.get(record.tool, ()))


def _refresh_card(runtime: ServiceRuntime, hold_id: str) -> None:
    try:
        if runtime.slack is not None:
            runtime.slack.sync.refresh(hold_id)
    except Exception:  # noqa: BLE001 - the decision stands; the worker retries the card
        return


async def _body(request: Request, model: type[B]) -> B | Response:
    try:
        raw = await read_capped(request, MAX_BODY_BYTES)
    except BodyRefusedError as exc:
        return _error(exc.status, "too_large" if exc.status == 413 else "bad_request", exc.message)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(body)"
        hint = " (the approver is the owner of the bearer token)" if field == "approver" else ""
        return _error(422, "invalid_body", f"{field}: {first['msg']}{hint}")


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def _throttled(wait_s: int) -> JSONResponse:
    message = f"too many failed authentications from this client; retry in {wait_s} s"
    response = _error(429, "throttled", message)
    response.headers["Retry-After"] = str(wait_s)
    return response


def _unavailable() -> JSONResponse:
    return _error(503, "unavailable", "the approval store is unavailable; nothing was decided")
