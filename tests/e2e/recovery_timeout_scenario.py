"""Run by test_recovery_timeout.py in a process of its own (one emulator per process): an
emulator whose recovery wait is a few seconds, one incident nobody resolves, and the outcome
printed as JSON on the last line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from runbook.local.emulator import LocalEmulator
from runbook.local.server import free_port

RECOVERY_TIMEOUT_SECONDS = 3


def main() -> int:
    from incidents.ids import incident_id

    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    emulator = LocalEmulator(
        free_port(), workdir, {"recoveryTimeoutSeconds": RECOVERY_TIMEOUT_SECONDS}
    )
    emulator.start()
    try:
        outputs = emulator.deploy().outputs
        sfn = emulator.client("stepfunctions")
        name = incident_id(datetime.now(UTC), "operator|nobody resolves this")
        body = {"title": "Nobody resolves this", "severity": "standard"}
        execution_arn = sfn.start_execution(
            stateMachineArn=outputs["StateMachineArn"], name=name, input=json.dumps(body)
        )["executionArn"]
        deadline = time.monotonic() + 60
        while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise SystemExit("the execution did not end")
            time.sleep(0.5)
        described = sfn.describe_execution(executionArn=execution_arn)
        item = emulator.client("dynamodb").get_item(
            TableName=outputs["IncidentTableName"], Key={"incident_id": {"S": name}}
        )["Item"]
        print(
            json.dumps(
                {
                    "status": described["status"],
                    "output": json.loads(described.get("output") or "{}"),
                    "incident_status": item["status"]["S"],
                }
            )
        )
        return 0
    finally:
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
