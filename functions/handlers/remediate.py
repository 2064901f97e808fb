"""Remediate: the steps of the workflow's remediation branch (docs/remediation.md, "How it
works"), one function with an `action` per step: propose, await (waitForTaskToken: keep the
decision's token), expire (the approval timeout), run, watch, compare (before/after), and
withdraw (the recovery branch ended first). The logic is remediation/workflow.py's."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext

from chat.responders import configured_responders
from chat.updates import post_update
from incidents.payloads import parse_payload
from remediation.source import remediation_config
from remediation.workflow import RemediationSteps, s3_evidence_reader
from shared import aws
from shared.config import settings
from shared.errors import InvalidIncidentInput
from shared.observability import MetricUnit, logger, metrics, tracer, track_incident
from shared.records import NONEMPTY, repr_without
from shared.timeutil import utcnow

Action = Literal["propose", "await", "expire", "run", "watch", "compare", "withdraw"]


class RemediatePayload(msgspec.Struct, kw_only=True):
    """`{action, incident_id, ...}`: `response` for propose, `task_token` for await,
    `diagnostics` (CollectDiagnostics' result) and `phase` for compare."""

    action: Action
    incident_id: Annotated[str, NONEMPTY]
    response: dict[str, Any] = msgspec.field(default_factory=dict)
    task_token: str = ""
    diagnostics: dict[str, Any] = msgspec.field(default_factory=dict)
    phase: Literal["after", "at_recovery"] = "after"

    def __repr__(self) -> str:
        return repr_without(self, "task_token")


def _announce(incident: Any, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    post_update(incident, text, blocks)  # best effort by design (chat/updates.py)


def _page(incident: Any, subject: str, message: str) -> str:
    """Page a proposal on the incident's severity topic (critical, high; a standard incident
    pages nobody); "" when sent, else why not (a finding: the channel and CLI still have it)."""
    cfg = settings()
    topic = {"critical": cfg.critical_topic_arn, "high": cfg.high_topic_arn}.get(
        incident.severity, ""
    )
    if not topic:
        return "" if incident.severity == "standard" else "no topic configured"
    try:
        aws.client("sns").publish(
            TopicArn=topic,
            Subject=subject,
            Message=message,
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": incident.severity},
                "incident_id": {"DataType": "String", "StringValue": incident.incident_id},
                "kind": {"DataType": "String", "StringValue": "remediation_proposal"},
            },
        )
    except Exception as exc:  # the proposal stands without its page (see the docstring)
        logger.warning("proposal page failed", extra={"error": type(exc).__name__})
        return type(exc).__name__
    return ""


def steps(context: LambdaContext) -> RemediationSteps:
    cfg = settings()
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return RemediationSteps(
        table=aws.dynamodb_table(cfg.require("incident_table_name")),
        sfn=aws.client("stepfunctions"),
        ssm=aws.client("ssm"),
        config=remediation_config(),
        automation_role_arn=cfg.remediation_role_arn,
        read_evidence=s3_evidence_reader(aws.client("s3")),
        responders=configured_responders(),
        home_account=parts[4] if len(parts) > 4 else "",
        home_region=os.environ.get("AWS_REGION", ""),
        announce=_announce,
        page=_page,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_payload(RemediatePayload, event)
    track_incident(payload.incident_id)
    logger.append_keys(remediation_action=payload.action)
    run = steps(context)
    now = utcnow()
    incident_id = payload.incident_id
    if payload.action == "propose":
        result = run.propose(incident_id, payload.response, now)
        if result["status"] != "none":
            metrics.add_metric(name="RemediationsProposed", unit=MetricUnit.Count, value=1)
    elif payload.action == "await":
        if not payload.task_token:
            raise InvalidIncidentInput("invalid RemediatePayload: task_token is required for await")
        result = run.await_decision(incident_id, payload.task_token)
    elif payload.action == "expire":
        result = run.expire(incident_id, now)
    elif payload.action == "run":
        result = run.run(incident_id, now)
    elif payload.action == "watch":
        result = run.watch(incident_id)
        if result["done"] and result["outcome"] not in ("success", "none"):
            metrics.add_metric(name="RemediationsFailed", unit=MetricUnit.Count, value=1)
    elif payload.action == "compare":
        result = run.compare(incident_id, payload.diagnostics, payload.phase)
    else:
        result = run.withdraw(incident_id, now)
    logger.info("remediation step", extra={"result": result})
    return result
