"""Starting the incident's Step Functions execution, named after the incident (or
`<id>-r<n>` for its n-th reopen), so a redelivered event can never start a second run."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shared.errors import error_code, reraise_transient


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives an execution `name` of this state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def start_run(sfn: Any, state_machine_arn: str, name: str, incident_id: str, event: Any) -> str:
    """Start execution `name` with the ingest input `{incident_id, event}`; an execution
    that already exists under that name is the one we meant (returns its ARN)."""
    try:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=json.dumps({"incident_id": incident_id, "event": event}),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return execution_arn(state_machine_arn, name)
        reraise_transient(exc, "Step Functions StartExecution")
        raise
    return str(started["executionArn"])
