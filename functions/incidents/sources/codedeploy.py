"""CodeDeploy "Deployment State-change Notification" events (EventBridge event reference,
"AWS CodeDeploy events"). A FAILURE opens an incident; the correlation key is the deployment
group, so a retried deployment that fails again joins the same incident.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from incidents.correlation_keys import deployment_group_key, fold_keys_for, service_keys_for
from incidents.model import Resource
from incidents.signal import Signal
from incidents.sources.envelope import AwsEvent, invalid, parse_event
from shared.records import NONEMPTY

SOURCE = "aws.codedeploy"
DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"
FAILURE = "FAILURE"


class DeploymentDetail(msgspec.Struct, kw_only=True):
    application: Annotated[str, NONEMPTY]
    deploymentGroup: Annotated[str, NONEMPTY]
    deploymentId: Annotated[str, NONEMPTY]
    state: Annotated[str, NONEMPTY]
    region: str = ""
    instanceGroupId: str = ""


class DeploymentEvent(AwsEvent):
    detail: DeploymentDetail


def parse(event: Any) -> Signal:
    """A failed deployment; any other state is an InvalidIncidentInput."""
    parsed = parse_event(event, DeploymentEvent, "malformed CodeDeploy deployment event")
    detail = parsed.detail
    if detail.state != FAILURE:
        raise invalid("CodeDeploy deployment is not a failure", f"state {detail.state}")
    account, region = parsed.account or None, (parsed.region or detail.region) or None
    group = f"{detail.application}/{detail.deploymentGroup}"
    resources = [
        Resource(type="AWS::CodeDeploy::DeploymentGroup", id=group[:2048]),
        Resource(type="AWS::CodeDeploy::Deployment", id=detail.deploymentId[:2048]),
    ]
    return Signal(
        kind="codedeploy",
        title=f"CodeDeploy deployment {detail.deploymentId} of {group} failed"[:256],
        description=f"Deployment {detail.deploymentId} to {group} ended in {detail.state}.",
        source=SOURCE,
        category=detail.state,
        occurred_at=parsed.time,
        signal_key=f"{detail.deploymentId}|{detail.state}",
        state_value=detail.state,
        resources=resources,
        account=account,
        region=region,
        correlation_key=deployment_group_key(
            account, region, detail.application, detail.deploymentGroup
        ),
        fold_keys=fold_keys_for(resources, account, region),
        service_keys=service_keys_for(resources, account, region),
    )
