"""Alertmanager v2 HTTP API (0.25's OpenAPI shapes) over a :class:`~alerting.dispatch.Dispatcher`.

``am_router(dispatcher, silences)`` serves ``/api/v2/{alerts, alerts/groups, silences, silence/{id}, status,
receivers}`` so Prometheus can use Paramedic as its Alertmanager and ``amtool`` can manage silences. Times are
rendered like go-openapi's ``strfmt.DateTime`` (RFC 3339, milliseconds, ``Z``). Paramedic additions (acks, the
notification log) live under ``/api/v2/paramedic/``. ``mutate_dependency`` guards every mutating endpoint (the
server adds bearer-token auth there).

Tenancy: every handler takes the request's scope (:func:`platforms.tenancy.scope_of`). A tenant-scoped
principal sees only the alerts, groups, silences, receivers and notification log entries of its orgs/spaces
(:mod:`alerting.dispatch.tenancy`); ``filter=``/``receiver=`` narrow that further and never widen it. It may
post only alerts of spaces it operates, its silences are confined to its spaces (missing tenant matchers
added or asked for, wider ones refused 403), another tenant's silence or alert is 404, and ``/status`` does
not show it the configuration (other teams' receivers).

Nothing heavy runs on the event loop: ``POST /alerts`` parses and stores its batch in a worker thread and
the GET routes are plain functions (FastAPI runs them in its worker threads). The dispatcher holds at most
``alerting.limits.max_alerts`` active alerts; a batch with refused alerts is answered 429 naming the limit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from alerting.base import AlertingError
from alerting.dispatch import (
    AlertView,
    Dispatcher,
    Matcher,
    MatcherError,
    Silence,
    SilenceError,
    SilenceLimit,
    SilenceLimitError,
    SilenceNotFoundError,
    Silences,
    parse_matchers,
)
from alerting.dispatch.tenancy import (
    TenantRefusedError,
    confine_silence,
    receivers_in_scope,
    silence_in_scope,
)
from alerting.model import Alert
from metrics_store.redact import redacted_dump
from platforms.tenancy import FOUNDATION, Scope, scope_of

__all__ = ["AlertmanagerHandlers", "am_router", "format_time"]

log = logging.getLogger(__name__)

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_LISTED_ERRORS = 10  # invalid alerts named in a 400; the rest are counted
VERSION = "0.25.0"


def format_time(t: datetime) -> str:
    """go-openapi ``strfmt.DateTime``: ``2006-01-02T15:04:05.000Z``."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# Python's datetime ends with the year 9999: a time near it overflows where a duration is added to it (a
# silence's retention in the dispatcher's maintenance, which then stopped every notification of the
# foundation; a group's wait; an email's chart window). Alertmanager takes any time; Paramedic refuses times
# after this one, and times without a zone (Go's RFC 3339 parse refuses them too; Python cannot compare them
# with the server's aware clock).
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)


def _wire_time(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("a time needs its zone (RFC 3339: Z or +hh:mm)")
    if t > LATEST_TIME:
        raise ValueError(f"a time must not be after {format_time(LATEST_TIME)}")
    return t


_WireTime = Annotated[datetime, AfterValidator(_wire_time)]


class _PostableAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: _WireTime | None = None  # noqa: N815 - wire name
    endsAt: _WireTime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815


class _PostMatcher(BaseModel):
    name: str
    value: str
    isRegex: bool  # noqa: N815
    isEqual: bool = True  # noqa: N815


class _PostableSilence(BaseModel):
    id: str | None = None
    matchers: list[_PostMatcher] = Field(min_length=1)
    startsAt: _WireTime  # noqa: N815
    endsAt: _WireTime  # noqa: N815
    createdBy: str  # noqa: N815
    comment: str


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse(message, status_code=status)


def _filters(filters: list[str]) -> list[Matcher]:
    out: list[Matcher] = []
    for f in filters:
        out += parse_matchers(f)
    return out


def _alert_json(v: AlertView) -> dict[str, Any]:
    a = v.alert
    out: dict[str, Any] = {
        "annotations": a.annotations,
        "endsAt": format_time(a.ends_at),
        "fingerprint": a.fingerprint,
        "receivers": [{"name": r} for r in v.receivers],
        "startsAt": format_time(a.starts_at),
        "status": {
            "inhibitedBy": v.status.inhibited_by,
            "silencedBy": v.status.silenced_by,
            "state": v.status.state,
        },
        "updatedAt": format_time(a.updated_at),
        "labels": a.labels,
    }
    if a.generator_url:  # omitted when empty, like Alertmanager
        out["generatorURL"] = a.generator_url
    return out


def _silence_json(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": format_time(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": format_time(s.ends_at),
        "matchers": [
            {"isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value}
            for m in s.matchers
        ],
        "startsAt": format_time(s.starts_at),
    }


def _keep(
    v: AlertView,
    *,
    active: bool,
    silenced: bool,
    inhibited: bool,
    matchers: list[Matcher],
    receiver: Matcher | None,
) -> bool:
    if receiver is not None and not any(receiver.matches(r) for r in v.receivers):
        return False
    if not active and v.status.state == "active":
        return False
    if not silenced and v.status.silenced_by:
        return False
    if not inhibited and v.status.inhibited_by:
        return False
    return all(m.name in v.alert.labels and m.matches(v.alert.labels[m.name]) for m in matchers)


def _silence_matches(s: Silence, matchers: list[Matcher]) -> bool:
    values: Mapping[str, str] = {m.name: m.value for m in s.matchers}
    return all(m.name in values and m.matches(values[m.name]) for m in matchers)


def _silence_order(s: Silence, now: datetime) -> tuple[int, float]:
    """Alertmanager's SortSilences: active by end, pending by start, expired by end (latest first)."""
    state = s.state(now)
    if state == "active":
        return (0, s.ends_at.timestamp())
    if state == "pending":
        return (1, s.starts_at.timestamp())
    return (2, -s.ends_at.timestamp())


class AlertmanagerHandlers:
    """The route handlers of :func:`am_router` over one dispatcher and its silences; each public method is
    one route (the factory only wires paths and the mutate guard to them), so a test can call it directly."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        silences: Silences | None = None,
        *,
        config_text: str | None = None,
        tenant_of: Callable[[str], tuple[str, str] | None] | None = None,
    ) -> None:
        self.tenant_of = tenant_of
        self.dispatcher = dispatcher
        self.silences = silences if silences is not None else dispatcher.silences
        self.clock = dispatcher.now
        self.started = self.clock()
        self.config_text = config_text

    def ingest(self, raw_body: bytes, scope: Scope = FOUNDATION) -> Response:
        """Parse, validate and store a batch (in a worker thread: a batch of megabytes must not hold up the
        event loop that answers /-/healthy and every other request). A tenant ``scope`` may post only alerts
        of the spaces it operates: a batch with any other is refused whole (403)."""
        try:
            body = orjson.loads(raw_body)  # depth-limited: deep nesting is a 400, not a RecursionError
        except ValueError:
            return _bad("invalid JSON body")
        if not isinstance(body, list):
            return _bad("body must be a list of alerts")
        alerts, errors = _postable_alerts(body)
        foreign = [
            i
            for i, a in enumerate(alerts)
            if not scope.operates_labels(a.labels) or self._misplaced(a, scope)
        ]
        if foreign:
            self.dispatcher.count_tenant_refusal("post_alerts")
            return _bad(
                f"{len(foreign)} of {len(alerts)} alerts are outside your scope ({scope.describe()}): "
                "their org/space labels must name a space you operate, and their app one of its apps; "
                "nothing was stored",
                403,
            )
        refused = self.dispatcher.accept(alerts, scope) if alerts else 0
        if errors:
            return _bad("; ".join(errors))
        if refused:
            limits = self.dispatcher.config.limits
            which = f"{limits.max_alerts} alerts are active, the limit (alerting.limits.max_alerts)"
            if not scope.is_foundation:
                which = (
                    f"your spaces hold {limits.max_alerts_per_tenant} active alerts "
                    f"(alerting.limits.max_alerts_per_tenant), or {which}"
                )
            return _bad(
                f"{refused} of {len(alerts)} alerts refused: {which}; updates of active alerts are still "
                "accepted",
                429,
            )
        return Response(status_code=200)

    def _misplaced(self, alert: Alert, scope: Scope) -> bool:
        """A tenant's alert naming (``app``/``app_guid``) an app the platform puts in another org/space than
        the alert's labels say: routes or inhibition matching on ``app`` would reach that app's team."""
        if scope.is_foundation or self.tenant_of is None:
            return False
        labels = alert.labels
        for key in ("app_guid", "app"):
            app = labels.get(key)
            if app:
                placed = self.tenant_of(app)
                if placed is not None and placed != (labels.get("org", ""), labels.get("space", "")):
                    return True
        return False

    async def post_alerts(self, request: Request) -> Response:
        return await run_in_threadpool(self.ingest, await request.body(), scope_of(request))

    def get_alerts(
        self,
        request: Request,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
        filter: list[str] = Query(default=[]),  # noqa: B008 - the API's parameter name
        receiver: str | None = None,
    ) -> Response:
        try:
            matchers = _filters(filter)
            rx = Matcher.create("receiver", "=~", receiver) if receiver else None  # RE2, anchored
        except MatcherError as e:
            return _bad(str(e))
        views = self.dispatcher.alerts(scope_of(request))
        out = [
            _alert_json(v)
            for v in views
            if _keep(v, active=active, silenced=silenced, inhibited=inhibited, matchers=matchers, receiver=rx)
        ]
        return JSONResponse(out)

    def get_groups(
        self,
        request: Request,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filter: list[str] = Query(default=[]),  # noqa: B008
        receiver: str | None = None,
    ) -> Response:
        try:
            matchers = _filters(filter)
            rx = Matcher.create("receiver", "=~", receiver) if receiver else None  # RE2, anchored
        except MatcherError as e:
            return _bad(str(e))
        out = []
        for g in self.dispatcher.groups(scope_of(request)):
            if rx is not None and not rx.matches(g.receiver):
                continue
            alerts = [
                _alert_json(v)
                for v in g.alerts
                if _keep(
                    v, active=active, silenced=silenced, inhibited=inhibited, matchers=matchers, receiver=None
                )
            ]
            if alerts:
                out.append({"alerts": alerts, "labels": g.labels, "receiver": {"name": g.receiver}})
        return JSONResponse(out)

    def get_silences(self, request: Request, filter: list[str] = Query(default=[])) -> Response:  # noqa: B008
        try:
            matchers = _filters(filter)
        except MatcherError as e:
            return _bad(str(e))
        now, scope = self.clock(), scope_of(request)
        items = sorted(
            (
                s
                for s in self.silences.all()
                if silence_in_scope(scope, s.matchers) and _silence_matches(s, matchers)
            ),
            key=lambda s: _silence_order(s, now),
        )
        return JSONResponse([_silence_json(s, now) for s in items])

    async def post_silence(self, request: Request) -> Response:
        scope = scope_of(request)
        try:
            ps = _PostableSilence.model_validate(orjson.loads(await request.body()))  # depth-limited
            matchers = [
                Matcher.create(
                    m.name,
                    ("=~" if m.isEqual else "!~") if m.isRegex else ("=" if m.isEqual else "!="),
                    m.value,
                )
                for m in ps.matchers
            ]
            if ps.id:
                self._own_silence(ps.id, scope)
            confined = confine_silence(scope, matchers)
            sid = self.silences.set(
                confined.matchers,
                starts_at=ps.startsAt,
                ends_at=ps.endsAt,
                created_by=ps.createdBy,
                comment=ps.comment,
                silence_id=ps.id or None,
                limit=self._silence_limit(scope),
            )
        except ValidationError as e:
            return _bad(f"invalid silence: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}")
        except ValueError:
            return _bad("invalid JSON body")
        except SilenceNotFoundError as e:
            return _bad(str(e), 404)
        except SilenceLimitError as e:
            self.dispatcher.count_silence_refusal(e.reason)
            return _bad(f"silence refused: {e}; updates of held silences are still accepted", 429)
        except TenantRefusedError as e:
            self.dispatcher.count_tenant_refusal("silence")
            return _bad(str(e), 403)
        except (SilenceError, MatcherError) as e:
            return _bad(str(e))
        out: dict[str, Any] = {"silenceID": sid}
        if confined.added:
            added = [str(m) for m in confined.added]
            log.info("silence %s (%s): added tenant matchers %s", sid, scope.describe(), ", ".join(added))
            out["addedMatchers"] = added  # Paramedic extension: the tenant matchers the server added
        return JSONResponse(out)

    def _silence_limit(self, scope: Scope) -> SilenceLimit:
        """The limits a new silence of ``scope`` meets: ``alerting.limits.max_silences``, and for a tenant
        scope ``max_silences_per_tenant`` over the held silences it sees."""
        limits = self.dispatcher.config.limits

        def refused(held: Sequence[Silence]) -> tuple[str, str] | None:
            if len(held) >= limits.max_silences:
                return "max_silences", (
                    f"{limits.max_silences} silences are active or pending, the limit "
                    "(alerting.limits.max_silences)"
                )
            if scope.is_foundation:
                return None
            mine = sum(1 for s in held if silence_in_scope(scope, s.matchers))
            if mine >= limits.max_silences_per_tenant:
                return "max_silences_per_tenant", (
                    f"your spaces hold {mine} active or pending silences, the limit "
                    f"(alerting.limits.max_silences_per_tenant)"
                )
            return None

        return refused

    def _own_silence(self, silence_id: str, scope: Scope) -> None:
        """The silence exists for ``scope`` (else :class:`SilenceNotFoundError`) and it operates it (else
        :class:`TenantRefusedError`)."""
        s = self.silences.get(silence_id)
        if not silence_in_scope(scope, s.matchers):
            raise SilenceNotFoundError(f"silence {silence_id} not found")
        if not silence_in_scope(scope, s.matchers, operate=True):
            raise TenantRefusedError(f"silence {silence_id}: you do not operate it ({scope.describe()})")

    def get_silence(self, request: Request, silence_id: str) -> Response:
        try:
            s = self.silences.get(silence_id)
        except SilenceNotFoundError:
            return Response(status_code=404)
        if not silence_in_scope(scope_of(request), s.matchers):
            return Response(status_code=404)  # another tenant's: do not confirm it exists
        return JSONResponse(_silence_json(s, self.clock()))

    def delete_silence(self, request: Request, silence_id: str) -> Response:
        try:
            self._own_silence(silence_id, scope_of(request))
            self.silences.expire(silence_id)
        except SilenceNotFoundError as e:
            return _bad(str(e), 404)
        except TenantRefusedError as e:
            self.dispatcher.count_tenant_refusal("expire")
            return _bad(str(e), 403)
        except SilenceError as e:
            return _bad(str(e), 500)
        return Response(status_code=200)

    def get_status(self, request: Request) -> Response:
        original = self.config_text
        if not scope_of(request).is_foundation:
            original = ""  # the configuration names every team's receivers: foundation roles only
        elif original is None:
            data = redacted_dump(self.dispatcher.config, by_alias=True, exclude_defaults=True)
            original = yaml.safe_dump(data, sort_keys=False)
        return JSONResponse(
            {
                "cluster": {"peers": [], "status": "disabled"},
                "config": {"original": original},
                "uptime": format_time(self.started),
                "versionInfo": {
                    "branch": "paramedic",
                    "buildDate": "",
                    "buildUser": "paramedic",
                    "goVersion": "python",
                    "revision": "",
                    "version": VERSION,
                },
            }
        )

    def get_receivers(self, request: Request) -> Response:
        names = receivers_in_scope(scope_of(request), self.dispatcher.route, self.dispatcher.receivers())
        return JSONResponse([{"name": n} for n in names])

    def ack(self, request: Request, group_key: str | None = None, fingerprint: str | None = None) -> Response:
        """Paramedic extension: acknowledge a group (``group_key``) or one alert (``fingerprint``); a
        tenant scope acknowledges only the alerts it operates (none it sees: 404; none it operates: 403)."""
        scope = scope_of(request)
        try:
            if group_key is not None:
                n = self.dispatcher.ack_group(group_key, scope)
            elif fingerprint is not None:
                n = self.dispatcher.ack_alert(fingerprint, scope)
            else:
                return _bad("give group_key or fingerprint")
        except TenantRefusedError as e:
            return _bad(str(e), 403)
        except AlertingError as e:
            return _bad(str(e), 404)
        return JSONResponse({"acked": n})

    def notifications(self, request: Request) -> Response:
        """Paramedic extension: the notification log (what was last sent to which receiver integration),
        for a tenant scope only the entries of its groups."""
        entries = self.dispatcher.notification_log(scope_of(request))
        return JSONResponse([e.to_json() for e in entries])


def _postable_alerts(body: list[Any]) -> tuple[list[Alert], list[str]]:
    """The valid alerts of a posted batch, and one error per invalid one, the first
    :data:`MAX_LISTED_ERRORS` of them (then one line counting the rest): an 8 MiB batch of ``{}`` listed
    2.5 million errors, a 76 MB answer built in memory (10x the request)."""
    alerts: list[Alert] = []
    errors: list[str] = []
    invalid = 0
    for i, raw in enumerate(body):
        error = ""
        try:
            pa = _PostableAlert.model_validate(raw)
        except ValidationError as e:
            error = f"alert {i}: {e.errors()[0]['msg']}"
        else:
            if not pa.labels:
                error = f"alert {i}: at least one label pair required"
            elif bad := [n for n in pa.labels if not _LABEL_NAME.match(n)]:
                error = f"alert {i}: invalid label name {bad[0]!r:.200}"
            elif pa.startsAt and pa.endsAt and pa.endsAt < pa.startsAt and pa.endsAt.year > 1:
                error = f"alert {i}: start time must be before end time"
            else:
                alerts.append(Alert(pa.labels, pa.annotations, pa.startsAt, pa.endsAt, pa.generatorURL))
        if error:
            invalid += 1
            if len(errors) < MAX_LISTED_ERRORS:
                errors.append(error)
    if invalid > len(errors):
        errors.append(f"and {invalid - len(errors)} more invalid alerts")
    return alerts, errors


def am_router(
    dispatcher: Dispatcher,
    silences: Silences | None = None,
    *,
    mutate_dependency: Callable[..., Any] | None = None,
    config_text: str | None = None,
    tenant_of: Callable[[str], tuple[str, str] | None] | None = None,
) -> APIRouter:
    """``tenant_of``: the platform's app -> (org, space); with it, a scoped principal's posted alert that
    names another space's app is refused."""
    h = AlertmanagerHandlers(dispatcher, silences, config_text=config_text, tenant_of=tenant_of)
    guard = [Depends(mutate_dependency)] if mutate_dependency is not None else []
    router = APIRouter(prefix="/api/v2")
    router.add_api_route("/alerts", h.post_alerts, methods=["POST"], dependencies=guard)
    router.add_api_route("/alerts", h.get_alerts, methods=["GET"])
    router.add_api_route("/alerts/groups", h.get_groups, methods=["GET"])
    router.add_api_route("/silences", h.get_silences, methods=["GET"])
    router.add_api_route("/silences", h.post_silence, methods=["POST"], dependencies=guard)
    router.add_api_route("/silence/{silence_id}", h.get_silence, methods=["GET"])
    router.add_api_route("/silence/{silence_id}", h.delete_silence, methods=["DELETE"], dependencies=guard)
    router.add_api_route("/status", h.get_status, methods=["GET"])
    router.add_api_route("/receivers", h.get_receivers, methods=["GET"])
    router.add_api_route("/paramedic/ack", h.ack, methods=["POST"], dependencies=guard)
    router.add_api_route("/paramedic/notifications", h.notifications, methods=["GET"])
    return router
