"""The remediation HTTP API: actions (list, detail, approve/reject), signed approval links, policies and their
mode, and blue-green deployments.

Authorisation is not this router's job: the server applies its auth app-wide and, for an authenticated
request, sets ``request.state.principal`` to an object with ``name`` and ``role`` (the contract this router
relies on: ``who`` in the audit trail is ``principal.name``). The two signed-link endpoints
(``/api/v1/actions/{id}/approve?token=...`` and ``/reject?token=...``) are the exception: the server lets them
through without a principal and this router verifies the signed token (HMAC signature, expiry, the action
and decision it was made for) and that it is used once.

Tenancy (``platforms.tenancy``): every handler reads ``scope_of(request)``. Lists (actions, policies) show
only what the scope sees: actions of its spaces (an action's org/space is its target app's; one of no space
is the foundation's), and space policies all of whose spaces it sees. A single action outside the scope
answers 404 exactly like an unknown id (never confirm that another tenant's action exists). Approving or
rejecting needs an ``operator`` grant on the action's space: a principal who sees the action without one
gets 403 naming its scope. Policy mode switches and deployments are foundation-wide (403 for any scoped
principal, whatever its role). The signed links of approval emails authorise themselves, as before.

JSON: datetimes RFC 3339; errors ``{"error": "..."}`` with 404 for unknown ids or policies, 409 for deciding
an action that is not pending approval, 422 for bad input.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platforms.tenancy import Scope, scope_of
from remediation.base import RemediationError
from remediation.model import ActionRecord, ActionRequest, AuditEvent, Target, request_id

__all__ = ["DEPLOY_POLICY", "ActionsEngine", "ActionsHandlers", "ApprovalVerifier", "actions_router"]

Decision = Literal["approve", "reject"]
M = TypeVar("M", bound=BaseModel)
DEPLOY_POLICY = "api-deployments"  # policy name of blue-green deployments started through the API


class _Audit(Protocol):
    def get(self, action_id: str) -> ActionRecord | None: ...

    def query(
        self,
        *,
        policy: str | None = None,
        app: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        scope: Scope = ...,
    ) -> list[ActionRecord]: ...


class _PolicyStatus(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def mode(self) -> Literal["dry_run", "live"]: ...
    @property
    def open_breakers(self) -> list[str]: ...
    @property
    def scope(self) -> Scope: ...


class ActionsEngine(Protocol):
    """What this router needs of :class:`remediation.engine.RemediationEngine`."""

    @property
    def audit(self) -> _Audit: ...

    async def approve(self, action_id: str, who: str) -> ActionRecord: ...

    async def reject(self, action_id: str, who: str, reason: str = "") -> ActionRecord: ...

    def set_mode(self, policy: str, mode: Literal["dry_run", "live"], who: str) -> None: ...

    def policies(self) -> Sequence[_PolicyStatus]: ...

    async def submit(self, request: ActionRequest) -> ActionRecord: ...


class ApprovalVerifier(Protocol):
    """:class:`remediation.approval.ApprovalSigner`: raises a RemediationError unless ``token`` grants
    ``decision`` on ``action_id`` now."""

    def verify(self, token: str, action_id: str, decision: Decision, now: datetime | None = None) -> None: ...


class _Decide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=2000)


class _Mode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["dry_run", "live"]


class _Deploy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: str = Field(min_length=1)
    revision: str = Field(min_length=1)
    steps: list[int] | None = Field(None, min_length=1)
    step_duration_s: float | None = Field(None, gt=0, le=3600, description="Observation time per step.")
    gates: Literal["local", "cloudfoundry"] | None = Field(
        None, description="Gate preset (default local: the app's own http_requests_total)."
    )

    def checked_steps(self) -> list[int] | None:
        if self.steps is None:
            return None
        if any(not 0 < s <= 100 for s in self.steps) or self.steps != sorted(set(self.steps)):
            raise ValueError("steps must be increasing percentages in 1..100")
        return self.steps


_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ verb }} action {{ id }}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{{ verb }} remediation action?</h1>
<p><b>{{ what }}</b></p>
<p>Policy {{ policy }} (version {{ version }}), status <b>{{ status }}</b>, requested {{ created }}.</p>
{% if pending %}
<form method="post" action="{{ action_url }}">
  <input type="hidden" name="token" value="{{ token }}">
  <label>Reason (optional) <input type="text" name="reason" size="40"></label>
  <button type="submit">{{ verb }}</button>
</form>
{% else %}<p>This action is no longer waiting for approval; nothing to do.</p>{% endif %}
</body></html>"""
)
_DONE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html><head><meta charset="utf-8"><title>{{ status }}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>Action {{ id }}: {{ status }}</h1><p>{{ message }}</p></body></html>"""
)


def _time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def _event(e: AuditEvent, r: ActionRequest) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "at": _time(e.at),
        "org": r.org,
        "space": r.space,
        "data": _jsonable(e.data),
    }


def _summary(rec: ActionRecord) -> dict[str, Any]:
    r = rec.request
    return {
        "id": r.id,
        "policy": r.policy,
        "policy_version": r.policy_version,
        "action": r.action,
        "target": {"app": r.target.app, "instance": r.target.instance},
        "mode": r.mode,
        "org": r.org,
        "space": r.space,
        "status": rec.status,
        "created_at": _time(r.created_at),
        "updated_at": _time(rec.updated_at),
    }


def _detail(rec: ActionRecord) -> dict[str, Any]:
    r = rec.request
    request = _jsonable(asdict(r))
    return {**_summary(rec), "request": request, "events": [_event(e, r) for e in rec.events]}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _message(resp: Response) -> str:
    return str(json.loads(bytes(resp.body)).get("error", ""))


def _who(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    name = getattr(principal, "name", None)
    return name if isinstance(name, str) and name else None


def _tenant(r: ActionRequest) -> str:
    if r.org is None:
        return "the foundation"
    return r.org if r.space is None else f"{r.org}/{r.space}"


def _sees(scope: Scope, rec: ActionRecord) -> bool:
    return scope.sees(rec.request.org, rec.request.space)


def _sees_policy(scope: Scope, policy: Scope) -> bool:
    """A principal sees a space policy when it sees every space the policy acts in; a foundation policy
    only when it is foundation-wide itself."""
    if scope.is_foundation:
        return True
    if policy.grants is None:
        return False
    return all(scope.sees(g.org, g.space) for g in policy.grants)


def _foundation_only(scope: Scope, what: str) -> JSONResponse | None:
    if scope.is_foundation:
        return None
    return _error(403, f"{what} is foundation-wide: your scope is {scope.describe()}")


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time or Unix timestamp: {text!r}") from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


async def _body(request: Request, model: type[M]) -> M:
    """The JSON (or, from the HTML form, urlencoded) body as ``model``; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return model.model_validate({})
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))  # the confirmation page's form
        return model.model_validate({k: v for k, v in form.items() if k in model.model_fields})
    return model.model_validate_json(raw)


def _invalid(exc: ValidationError | ValueError) -> JSONResponse:
    if isinstance(exc, ValidationError):
        msgs = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        return _error(422, "; ".join(msgs))
    return _error(422, str(exc))


class _UsedLinks:
    """Signed tokens already used (the action's status also forbids a second decision); thread-safe."""

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, token: object) -> bool:
        with self._lock:
            return token in self._used

    def add(self, token: str) -> None:
        with self._lock:
            self._used.add(token)


class ActionsHandlers:
    """The route handlers of :func:`actions_router`, over one engine and one set of used signed links.

    Each public method is one route (the factory only wires paths to them), so a test can call a handler
    directly. ``signer`` checks the signed links of approval emails (None: links refused)."""

    def __init__(
        self,
        engine: ActionsEngine,
        *,
        signer: ApprovalVerifier | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.used = _UsedLinks()

    def _decide_state(self, action_id: str) -> ActionRecord | JSONResponse:
        rec = self.engine.audit.get(action_id)
        if rec is None:
            return _error(404, f"no action {action_id}")
        if rec.status != "pending_approval":
            return _error(409, f"action {action_id} is {rec.status}, not pending approval")
        return rec

    async def _decide(self, action_id: str, decision: Decision, who: str, reason: str) -> JSONResponse:
        state = self._decide_state(action_id)
        if isinstance(state, JSONResponse):
            return state
        try:
            if decision == "approve":
                rec = await self.engine.approve(action_id, who)
            else:
                rec = await self.engine.reject(action_id, who, reason)
        except RemediationError as exc:  # raced with another decision or the expiry
            return _error(409, str(exc))
        return JSONResponse(_detail(rec))

    def _check_link(self, action_id: str, decision: Decision, token: str) -> JSONResponse | None:
        if self.signer is None:
            return _error(403, "signed approval links are not configured on this server")
        try:
            self.signer.verify(token, action_id, decision, self.now())
        except RemediationError as exc:
            return _error(403, str(exc))
        if token in self.used:
            return _error(409, "this approval link was already used")
        return None

    def _may_decide(self, action_id: str, decision: Decision, scope: Scope) -> JSONResponse | None:
        """404 for an action the scope does not see (as for an unknown one), 403 without an operator grant
        on its space, else None."""
        rec = self.engine.audit.get(action_id)
        if rec is None or not _sees(scope, rec):
            return _error(404, f"no action {action_id}")
        r = rec.request
        if not scope.operates(r.org, r.space):
            return _error(403, f"your scope ({scope.describe()}) may not {decision} actions of {_tenant(r)}")
        return None

    def list_actions(
        self,
        request: Request,
        policy: str | None = None,
        app: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> Response:
        try:
            t0, t1 = _parse_time(since), _parse_time(until)
        except ValueError as exc:
            return _invalid(exc)
        recs = self.engine.audit.query(
            policy=policy,
            app=app,
            status=status,
            since=t0,
            until=t1,
            limit=limit,
            scope=scope_of(request),
        )
        return JSONResponse({"actions": [_summary(r) for r in recs]})

    def get_action(self, request: Request, action_id: str) -> Response:
        rec = self.engine.audit.get(action_id)
        if rec is None or not _sees(scope_of(request), rec):
            return _error(404, f"no action {action_id}")
        return JSONResponse(_detail(rec))

    async def _decision_endpoint(self, request: Request, action_id: str, decision: Decision) -> Response:
        token = request.query_params.get("token")
        try:
            body = await _body(request, _Decide)
        except (ValidationError, ValueError) as exc:
            return _invalid(exc)
        if token is not None:  # a signed link from the approval email: the token is the authorisation
            return await self._signed_decision(request, action_id, decision, token, body.reason)
        who = _who(request)
        if who is None:
            return _error(401, "no authenticated principal: send a token, or use the signed link")
        refused = self._may_decide(action_id, decision, scope_of(request))
        if refused is not None:
            return refused
        return await self._decide(action_id, decision, who, body.reason)

    async def _signed_decision(
        self, request: Request, action_id: str, decision: Decision, token: str, reason: str
    ) -> Response:
        refused = self._check_link(action_id, decision, token)
        if refused is not None:
            return refused
        resp = await self._decide(action_id, decision, "signed-link", reason)
        if resp.status_code == 200:
            self.used.add(token)
        if "text/html" in request.headers.get("accept", ""):
            message = "Done." if resp.status_code == 200 else _message(resp)
            status = "approved" if decision == "approve" else "rejected"
            page = _DONE.render(id=action_id, status=status if resp.status_code == 200 else "refused",
                                message=message)  # fmt: skip
            return HTMLResponse(page, status_code=resp.status_code)
        return resp

    async def approve(self, request: Request, action_id: str) -> Response:
        return await self._decision_endpoint(request, action_id, "approve")

    async def reject(self, request: Request, action_id: str) -> Response:
        return await self._decision_endpoint(request, action_id, "reject")

    async def _confirm_page(
        self, request: Request, action_id: str, decision: Decision, token: str
    ) -> Response:
        refused = self._check_link(action_id, decision, token)
        if refused is not None:
            return HTMLResponse(
                _DONE.render(id=action_id, status="link refused", message=_message(refused)),
                status_code=refused.status_code,
            )
        rec = self.engine.audit.get(action_id)
        if rec is None:
            return HTMLResponse(
                _DONE.render(id=action_id, status="unknown", message="no such action"), status_code=404
            )
        r = rec.request
        page = _PAGE.render(
            verb="Approve" if decision == "approve" else "Reject",
            id=action_id,
            what=f"{r.action} {r.target}",
            policy=r.policy,
            version=r.policy_version,
            status=rec.status,
            created=_time(r.created_at),
            pending=rec.status == "pending_approval",
            action_url=str(request.url),
            token=token,
        )
        return HTMLResponse(page)

    async def approve_page(self, request: Request, action_id: str, token: str) -> Response:
        return await self._confirm_page(request, action_id, "approve", token)

    async def reject_page(self, request: Request, action_id: str, token: str) -> Response:
        return await self._confirm_page(request, action_id, "reject", token)

    def list_policies(self, request: Request) -> Response:
        scope = scope_of(request)
        out = [
            {
                "name": p.name,
                "version": p.version,
                "mode": p.mode,
                "scope": None if p.scope.grants is None else [g.selector() for g in p.scope.grants],
                "breaker": "open" if p.open_breakers else "closed",
                "open_breakers": list(p.open_breakers),
            }
            for p in self.engine.policies()
            if _sees_policy(scope, p.scope)
        ]
        return JSONResponse({"policies": out})

    async def set_mode(self, request: Request, name: str) -> Response:
        refused = _foundation_only(scope_of(request), "switching a policy's mode")
        if refused is not None:
            return refused
        try:
            body = _Mode.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return _invalid(exc)
        if name not in {p.name for p in self.engine.policies()}:
            return _error(404, f"no policy {name}")
        who = _who(request)
        if who is None:
            return _error(401, "no authenticated principal")
        try:
            self.engine.set_mode(name, body.mode, who)
        except RemediationError as exc:
            return _error(404, str(exc))
        return JSONResponse({"name": name, "mode": body.mode, "who": who})

    async def deploy(self, request: Request) -> Response:
        refused = _foundation_only(scope_of(request), "starting a deployment")
        if refused is not None:
            return refused
        try:
            body = _Deploy.model_validate_json(await request.body() or b"{}")
            steps = body.checked_steps()
        except (ValidationError, ValueError) as exc:
            return _invalid(exc)
        who = _who(request)
        if who is None:
            return _error(401, "no authenticated principal")
        try:
            rec = await self.engine.submit(_deploy_request(body, steps, who, self.now()))
        except RemediationError as exc:
            return _error(422, str(exc))
        return JSONResponse(_detail(rec), status_code=202)


def _deploy_request(body: _Deploy, steps: list[int] | None, who: str, at: datetime) -> ActionRequest:
    """The blue-green action a ``POST /deployments`` asks for."""
    target = Target(body.app)
    params: dict[str, Any] = {"type": "blue_green", "revision": body.revision}
    if steps is not None:
        params["steps"] = steps
    if body.step_duration_s is not None:
        params["step_duration"] = body.step_duration_s
    if body.gates is not None:
        params["gates"] = body.gates
    return ActionRequest(
        id=request_id(DEPLOY_POLICY, target, f"{body.revision}\x00{_time(at)}"),
        policy=DEPLOY_POLICY,
        policy_version="",
        action="blue_green",
        target=target,
        params=params,
        mode="live",
        created_at=at,
        trigger={"api": {"who": who, "revision": body.revision}},
    )


def actions_router(
    engine: ActionsEngine,
    *,
    signer: ApprovalVerifier | None = None,
    clock: Callable[[], datetime] | None = None,
) -> APIRouter:
    """Routes over ``engine``; ``signer`` checks the signed links of approval emails (None: links refused)."""
    h = ActionsHandlers(engine, signer=signer, clock=clock)
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/actions", h.list_actions, methods=["GET"])
    router.add_api_route("/actions/{action_id}", h.get_action, methods=["GET"])
    router.add_api_route("/actions/{action_id}/approve", h.approve, methods=["POST"])
    router.add_api_route("/actions/{action_id}/reject", h.reject, methods=["POST"])
    router.add_api_route("/actions/{action_id}/approve", h.approve_page, methods=["GET"])
    router.add_api_route("/actions/{action_id}/reject", h.reject_page, methods=["GET"])
    router.add_api_route("/policies", h.list_policies, methods=["GET"])
    router.add_api_route("/policies/{name}/mode", h.set_mode, methods=["POST"])
    router.add_api_route("/deployments", h.deploy, methods=["POST"])
    return router
