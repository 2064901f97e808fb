"""Slack buttons: Acknowledge and Resolve on an incident's message (POST /slack/actions).

API Gateway HTTP API, payload v2. The signature is verified on the raw body before anything
reads it: unsigned, badly signed or stale (> 5 minutes, replayed) requests get 401 and change
nothing. A verified body that is not a usable interaction gets 400 and is recorded (redacted);
an unknown incident gets 404. Everything a person should just be told (already resolved,
already acknowledged, a button this app does not own) is a 200 with an ephemeral message,
because Slack shows an error for anything else. Slack waits three seconds: the only calls are
the (cached) secret, the DynamoDB write and SendTaskSuccess.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from callbacks.interactions import Ignored, Interaction, InvalidInteraction, parse_interaction
from callbacks.responses import slack_reply
from callbacks.signature import BadSignature, SignatureError, verify
from chat.secret import slack_credentials
from chat.updates import post_update
from incidents.repository import IncidentRepository
from recovery.operator import OperatorActions
from remediation.decisions import Decisions
from remediation.proposal import NotAnApprover
from shared import aws
from shared.config import settings
from shared.errors import (
    AlreadyAcknowledged,
    AlreadyResolved,
    ConfigurationError,
    IncidentError,
    IncidentNotFound,
    TransientDependencyError,
)
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.timeutil import utcnow

UNAUTHORIZED = "This request could not be verified as coming from Slack."
UNAVAILABLE = "The runbook could not record that right now; please press the button again."
BROKEN = "The runbook could not handle that button; the on-call team has been told in its logs."


def _raw_body(event: dict[str, Any]) -> bytes:
    """The bytes Slack signed (API Gateway may hand them over base64-encoded)."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise BadSignature("request body is not text")
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("request body is not valid base64") from exc


def _signing_secret() -> str:
    secret = slack_credentials().signing_secret
    if not secret:
        raise ConfigurationError(
            'the Slack secret has no "signing_secret": clicks cannot be verified'
        )
    return secret


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return {}
    return {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}


def _reject_invalid(table: Any, body: bytes, error: InvalidInteraction) -> dict[str, Any]:
    """Keep a redacted trace of a verified but unusable body (its tokens are not stored)."""
    summary = {
        "source": "slack_actions",
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_bytes": len(body),
    }
    try:
        error_id: str | None = IncidentRepository(table).record_invalid_event(summary, str(error))
    except (IncidentError, ClientError) as exc:
        error_id = None
        logger.warning("could not record the invalid interaction", extra={"error": str(exc)})
    logger.error("rejected interaction", extra={"error_id": error_id, "reason": str(error)})
    metrics.add_metric(name="SlackInteractionsRejected", unit=MetricUnit.Count, value=1)
    return slack_reply(f"That interaction could not be understood: {error}", status=400)


def _decide(table: Any, interaction: Interaction) -> dict[str, Any]:
    """Approve / Reject a proposed remediation as the Slack user (only its approvers)."""
    incident_id = interaction.incident_id
    verb: Literal["approve", "reject"] = "approve" if interaction.action == "approve" else "reject"
    decisions = Decisions(table, aws.client("stepfunctions"))
    try:
        decisions.decide(
            incident_id,
            verb,
            by=interaction.user_id,
            via="slack",
            at=utcnow(),
            label=interaction.user_name,
        )
    except IncidentNotFound:
        return slack_reply(f"There is no incident {incident_id}.", status=404)
    except NotAnApprover:
        metrics.add_metric(name="SlackDecisionsRefused", unit=MetricUnit.Count, value=1)
        logger.warning("not an approver", extra={"by": interaction.user_id})
        return slack_reply(
            f"You may not decide this remediation, {interaction.by}: only its approvers may."
        )
    except IncidentError as exc:  # already decided, expired, nothing proposed
        return slack_reply(f"Nothing changed: {exc}.")
    word = "Approved" if verb == "approve" else "Rejected"
    text = f"{word} the remediation of {incident_id} as {interaction.by}" + (
        ": the runbook runs it." if verb == "approve" else ": it does not run."
    )
    record = IncidentRepository(table).find(incident_id)
    if record is not None:
        post_update(record, text)
    return slack_reply(text)


def _act(table: Any, interaction: Interaction) -> dict[str, Any]:
    if interaction.action in ("approve", "reject"):
        return _decide(table, interaction)
    incident_id = interaction.incident_id
    actions = OperatorActions(table, aws.client("stepfunctions"))
    try:
        if interaction.action == "acknowledge":
            incident = actions.acknowledge(incident_id, by=interaction.by)
            text = (
                f"Acknowledged {incident_id} ({incident.title}) as {interaction.by}: escalation "
                "pages stop; the incident stays open until it recovers or is resolved."
            )
            outcome = "acknowledged"
        else:
            outcome = actions.resolve(incident_id, by=interaction.by)
            text = (
                f"Resolved {incident_id} as {interaction.by}: the runbook closes it and writes "
                "the postmortem."
                if outcome == "resumed"
                else f"Resolution of {incident_id} recorded as {interaction.by}: the runbook "
                "closes it as soon as its workflow starts waiting for recovery."
            )
    except IncidentNotFound:
        logger.warning("unknown incident", extra={"action": interaction.action})
        metrics.add_metric(name="SlackActionsUnknownIncident", unit=MetricUnit.Count, value=1)
        return slack_reply(f"There is no incident {incident_id}.", status=404)
    except (AlreadyResolved, AlreadyAcknowledged) as exc:
        logger.info("nothing to do", extra={"action": interaction.action, "reason": str(exc)})
        return slack_reply(f"Nothing changed: {exc}.")
    metrics.add_metric(name="SlackActionsApplied", unit=MetricUnit.Count, value=1)
    logger.info(
        "slack action applied",
        extra={"action": interaction.action, "by": interaction.by, "outcome": outcome},
    )
    # Slack shows nothing of a button's HTTP answer: the channel hears it as an update.
    record = IncidentRepository(table).find(incident_id)
    if record is not None:
        post_update(record, text)
    return slack_reply(text)


def _handle(event: dict[str, Any]) -> dict[str, Any]:
    try:
        body = _raw_body(event)
        verify(_signing_secret(), _headers(event), body)
    except SignatureError as exc:
        logger.warning(
            "unverified request", extra={"error": type(exc).__name__, "reason": str(exc)}
        )
        metrics.add_metric(name="SlackRequestsUnauthorized", unit=MetricUnit.Count, value=1)
        return slack_reply(UNAUTHORIZED, status=401)

    table = aws.dynamodb_table(settings().require("incident_table_name"))
    try:
        interaction = parse_interaction(body)
    except InvalidInteraction as exc:
        return _reject_invalid(table, body, exc)
    if isinstance(interaction, Ignored):
        logger.info("interaction ignored", extra={"reason": interaction.reason})
        return slack_reply(f"Nothing to do: {interaction.reason}.")
    track_incident(interaction.incident_id)
    return _act(table, interaction)


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Always an HTTP answer (`statusCode`, `headers`, `body`), never an unhandled error."""
    try:
        return _handle(event if isinstance(event, dict) else {})
    except TransientDependencyError as exc:
        logger.warning("dependency unavailable", extra={"reason": str(exc)})
        metrics.add_metric(name="SlackActionsUnavailable", unit=MetricUnit.Count, value=1)
        return slack_reply(UNAVAILABLE, status=503)
    except Exception as exc:  # Slack must get an answer; the cause is logged
        # Only the type and message: a traceback could quote the request's values.
        logger.error("slack action failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        metrics.add_metric(name="SlackActionsFailed", unit=MetricUnit.Count, value=1)
        return slack_reply(BROKEN, status=500)
