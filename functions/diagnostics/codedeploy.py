"""CodeDeploy: the failed deployment, its targets and their lifecycle events.

A deployment id comes with the incident (a CodeDeploy event) or is found as the newest
failed/stopped deployment of a deployment group in the window. Targets are listed (paged) and
read with BatchGetDeploymentTargets, at most 25 per call; the failing lifecycle event's
diagnostics (error code, script, log tail) name the cause, and the agent and script log
locations say where to read more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diagnostics.finding import (
    APPLICATION,
    INFRASTRUCTURE,
    OK,
    Cause,
    Domain,
    Finding,
    finding_from_client_error,
)
from diagnostics.paging import Deadline, batches, paginate
from diagnostics.targets import Targets
from shared.timeutil import iso, parse_time

SOURCE = "codedeploy"
BATCH_GET_TARGETS = 25
MAX_DEPLOYMENTS = 3

LOG_LOCATIONS = {
    "Server": [
        "/var/log/aws/codedeploy-agent/codedeploy-agent.log (agent, Linux)",
        "/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log"
        " (all deployments' script output, Linux)",
        "/opt/codedeploy-agent/deployment-root/<deployment-group-id>/{deployment}/logs/"
        "scripts.log (this deployment's scripts, Linux)",
        r"C:\ProgramData\Amazon\CodeDeploy\log\codedeploy-agent-log.txt (agent, Windows)",
        r"C:\ProgramData\Amazon\CodeDeploy\<deployment-group-id>\{deployment}\logs\scripts.log"
        " (Windows)",
    ],
    "Lambda": ["/aws/lambda/<hook function> (the AppSpec hooks are Lambda functions)"],
    "ECS": ["/aws/lambda/<hook function> (AppSpec hooks) and the new task set's container logs"],
}

# (cause code, domain, title, fix) by CodeDeploy error code or lifecycle diagnostics code.
_CAUSES: dict[str, tuple[str, Domain, str, str]] = {
    "ScriptTimedOut": (
        "codedeploy.hook_timeout",
        APPLICATION,
        "A lifecycle hook script timed out",
        "Raise the hook's `timeout` in the AppSpec file or make the script faster; a script "
        "that starts a long-running process must detach it (redirect its output).",
    ),
    "TIMEOUT": (
        "codedeploy.hook_timeout",
        APPLICATION,
        "The deployment timed out",
        "Find the lifecycle event that did not finish; hooks must report back in time.",
    ),
    "ScriptMissing": (
        "codedeploy.appspec",
        APPLICATION,
        "The AppSpec file names a script the revision does not contain",
        "Fix the hook's `location` in appspec.yml (paths are relative to the revision root).",
    ),
    "ScriptNotExecutable": (
        "codedeploy.appspec",
        APPLICATION,
        "A hook script is not executable",
        "chmod +x the script in the revision (or run it through its interpreter).",
    ),
    "INVALID_REVISION": (
        "codedeploy.appspec",
        APPLICATION,
        "The revision or its AppSpec file is invalid",
        "Validate appspec.yml (indentation, hook names for the compute platform, files).",
    ),
    "ScriptFailed": (
        "codedeploy.script_failed",
        APPLICATION,
        "A lifecycle hook script failed",
        "Read the log tail and the scripts.log of the deployment on the instance.",
    ),
    "IAM_ROLE_MISSING": (
        "codedeploy.iam",
        INFRASTRUCTURE,
        "The CodeDeploy service role is missing",
        "Set a service role on the deployment group that trusts codedeploy.amazonaws.com.",
    ),
    "IAM_ROLE_PERMISSIONS": (
        "codedeploy.iam",
        INFRASTRUCTURE,
        "The CodeDeploy service role lacks permissions",
        "Attach AWSCodeDeployRole (or the Lambda/ECS variant) to the service role.",
    ),
    "AUTO_SCALING_IAM_ROLE_PERMISSIONS": (
        "codedeploy.iam",
        INFRASTRUCTURE,
        "The service role cannot act on the Auto Scaling group",
        "Grant the service role the Auto Scaling permissions of AWSCodeDeployRole.",
    ),
    "HEALTH_CONSTRAINTS": (
        "codedeploy.health_check",
        APPLICATION,
        "Too many instances failed: the minimum healthy hosts constraint was not met",
        "Read the failing targets' lifecycle events; check the ELB health checks of the new "
        "revision (ValidateService/AllowTraffic).",
    ),
    "HEALTH_CONSTRAINTS_INVALID": (
        "codedeploy.health_check",
        INFRASTRUCTURE,
        "The minimum healthy hosts setting cannot be met with this many instances",
        "Lower the deployment configuration's minimum healthy hosts or add instances.",
    ),
    "AGENT_ISSUE": (
        "codedeploy.agent",
        INFRASTRUCTURE,
        "The CodeDeploy agent did not answer",
        "Check the agent is installed and running and can reach CodeDeploy and S3 "
        "(instance profile, NAT or VPC endpoints); read the agent log.",
    ),
    "ALARM_ACTIVE": (
        "codedeploy.alarm_rollback",
        APPLICATION,
        "A CloudWatch alarm on the deployment group stopped the deployment",
        "The new revision made an alarm fire: read that alarm's metrics for the revision.",
    ),
}


def cause_for(code: str, message: str) -> Cause | None:
    """The known cause of a CodeDeploy error or lifecycle diagnostics code."""
    key = code
    if key not in _CAUSES and "health" in message.lower():
        key = "HEALTH_CONSTRAINTS"
    if key not in _CAUSES and ("AccessDenied" in message or "not authorized" in message):
        key = "IAM_ROLE_PERMISSIONS"
    if key not in _CAUSES and "appspec" in message.lower():
        key = "INVALID_REVISION"
    known = _CAUSES.get(key)
    if known is None:
        return None
    cause_code, domain, title, fix = known
    return Cause(cause_code, domain, title, fix)


def _target_body(target: dict[str, Any]) -> dict[str, Any]:
    for key in ("instanceTarget", "lambdaTarget", "ecsTarget", "cloudFormationTarget"):
        if key in target:
            return dict(target[key])
    return {}


class CodeDeploySource:
    """Reads deployments and their targets through an injected CodeDeploy client."""

    def __init__(self, codedeploy: Any) -> None:
        self._codedeploy = codedeploy

    def collect(
        self, targets: Targets, start: datetime, end: datetime, deadline: Deadline
    ) -> list[Finding]:
        findings: list[Finding] = []
        ids = list(targets.deployments)
        for app, group in targets.deployment_groups:
            try:
                ids += self._failed_deployments(app, group, start, end, deadline)
            except ClientError as exc:
                findings.append(finding_from_client_error(SOURCE, f"{app}/{group}", exc))
        if not ids and not findings:
            groups = ", ".join(f"{a}/{g}" for a, g in targets.deployment_groups)
            findings.append(Finding(SOURCE, groups, OK, "no failed deployment in the window"))
        for deployment_id in ids[:MAX_DEPLOYMENTS]:
            try:
                findings.append(self._deployment(deployment_id, deadline))
            except ClientError as exc:
                findings.append(finding_from_client_error(SOURCE, deployment_id, exc))
        return findings

    def _failed_deployments(
        self, app: str, group: str, start: datetime, end: datetime, deadline: Deadline
    ) -> list[str]:
        return paginate(
            self._codedeploy,
            "list_deployments",
            "deployments",
            deadline,
            applicationName=app,
            deploymentGroupName=group,
            includeOnlyStatuses=["Failed", "Stopped"],
            createTimeRange={"start": start, "end": end},
        ).items

    def _deployment(self, deployment_id: str, deadline: Deadline) -> Finding:
        info = self._codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        target_ids = paginate(
            self._codedeploy,
            "list_deployment_targets",
            "targetIds",
            deadline,
            deploymentId=deployment_id,
        ).items
        details: list[dict[str, Any]] = []
        for batch in batches(target_ids, BATCH_GET_TARGETS):
            if deadline.expired():
                break
            response = self._codedeploy.batch_get_deployment_targets(
                deploymentId=deployment_id, targetIds=batch
            )
            details += [_target_body(t) for t in response.get("deploymentTargets", [])]
        failed = [t for t in details if t.get("status") == "Failed"]
        causes = self._causes(info, failed, len(details))
        platform = info.get("computePlatform", "Server")
        error = info.get("errorInformation", {})
        summary = {
            "status": info.get("status"),
            "application": info.get("applicationName"),
            "group": info.get("deploymentGroupName"),
            "error_code": error.get("code"),
            "failed_targets": len(failed),
            "targets": len(details),
            "log_locations": [
                p.format(deployment=deployment_id) for p in LOG_LOCATIONS.get(platform, [])
            ],
        }
        message = (
            f"deployment {info.get('status')}: {error.get('code', '')} {error.get('message', '')}"
        )
        evidence = {
            "deployment": {
                k: (iso(parse_time(v)) if isinstance(v, datetime) else v)
                for k, v in info.items()
                if k
                in (
                    "deploymentId",
                    "status",
                    "errorInformation",
                    "createTime",
                    "completeTime",
                    "computePlatform",
                    "deploymentOverview",
                    "deploymentConfigName",
                    "creator",
                )
            },
            "targets": [
                {
                    "target": t.get("targetId"),
                    "status": t.get("status"),
                    "lifecycle": [
                        {
                            "event": e.get("lifecycleEventName"),
                            "status": e.get("status"),
                            "diagnostics": e.get("diagnostics", {}),
                        }
                        for e in t.get("lifecycleEvents", [])
                    ],
                }
                for t in details
            ],
        }
        return Finding(SOURCE, deployment_id, OK, message.strip()[:500], summary, evidence, causes)

    @staticmethod
    def _causes(info: dict[str, Any], failed: list[dict[str, Any]], total: int) -> list[Cause]:
        deployment_id = info.get("deploymentId", "")
        found: dict[str, Cause] = {}
        for target in failed:
            for event in target.get("lifecycleEvents", []):
                diagnostics = event.get("diagnostics") or {}
                if event.get("status") != "Failed" or not diagnostics:
                    continue
                cause = cause_for(diagnostics.get("errorCode", ""), diagnostics.get("message", ""))
                if cause is None:
                    continue
                kept = found.setdefault(cause.code, cause)
                kept.resources.append(str(target.get("targetId", "")))
                if len(kept.evidence) < 3:
                    kept.evidence.append(
                        f"{target.get('targetId')} {event.get('lifecycleEventName')} "
                        f"{diagnostics.get('scriptName', '')}: {diagnostics.get('message', '')} "
                        f"| {diagnostics.get('logTail', '')[-300:]}"
                    )
        error = info.get("errorInformation") or {}
        overall = cause_for(error.get("code", ""), error.get("message", ""))
        if overall is not None and overall.code not in found:
            overall.evidence.append(f"{error.get('code')}: {error.get('message', '')}"[:300])
            found[overall.code] = overall
        for cause in found.values():
            cause.resources = [deployment_id, *cause.resources[:5]]
            cause.scope = f"{len(failed)} of {total} deployment targets failed"
        return list(found.values())
