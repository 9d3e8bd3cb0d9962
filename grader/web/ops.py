"""Probes and metrics for the people and machines that run the service: ``/healthz``,
``/readyz`` and ``/metrics``. No login, no CSRF, no rate limit: an orchestrator polls them
every few seconds. ``/metrics`` says how the service is used, so it answers only to a
loopback address, or to anyone with ``Authorization: Bearer <metrics_token>`` when that
setting is configured (then the token is needed from loopback too).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from grader.web.context import config, database

log = logging.getLogger("grader.web")
bp = Blueprint("ops", __name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")


@bp.record_once
def _setup(state) -> None:  # noqa: ANN001
    from grader.ops.metrics import registry_for
    from grader.web.extensions import csrf, limiter

    csrf.exempt(bp)
    limiter.exempt(bp)
    state.app.extensions["grader.metrics"] = registry_for(state.app.extensions["grader.db"])


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    """Liveness: this process answers. Touches nothing else, so a database outage never
    gets a healthy web process restarted."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # noqa: ANN201
    """Readiness: the database answers and (Celery queue) the broker takes connections;
    503 with each check's word otherwise, so a load balancer sends traffic elsewhere."""
    from grader.ops.readiness import readiness

    state = readiness(config(), database())
    response = jsonify(state.body())
    response.status_code = 200 if state.ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics():  # noqa: ANN201
    refusal = _refusal()
    if refusal is not None:
        return refusal
    from prometheus_client import generate_latest

    try:
        body = generate_latest(current_app.extensions["grader.metrics"])
    except Exception as exc:  # noqa: BLE001 - the database is away: say so, no stack trace
        log.warning("metrics: the database could not be read: %s: %s", type(exc).__name__, exc)
        return _text("the database cannot be read right now\n", 503)
    return Response(body, 200, {"Content-Type": PROMETHEUS_TEXT, "Cache-Control": "no-store"})


def _refusal() -> Response | None:
    token = config().metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return None
        response = _text("a valid 'Authorization: Bearer <metrics_token>' header is required\n", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _from_loopback():
        return None
    return _text("metrics are served to loopback addresses only (or configure metrics_token)\n", 403)


def _from_loopback() -> bool:
    """A loopback peer that is not a local reverse proxy passing on someone else's request
    (unless trust_proxy is on, and then the peer address already is the original client's)."""
    try:
        loopback = ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False
    proxied = not config().trust_proxy and any(name in request.headers for name in FORWARDED)
    return loopback and not proxied


def _text(message: str, status: int) -> Response:
    return Response(message, status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})
