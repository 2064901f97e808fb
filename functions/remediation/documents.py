"""The SSM Automation documents a rule may run: AWS-owned runbooks the runbook knows, and the
team's own schemaVersion 0.3 documents, parsed from their YAML or JSON.

Plain data, importable without boto3 (the local emulator reads this catalogue to emulate the
executions). Each shipped entry is taken from the AWS Systems Manager Automation Runbook
Reference page named in `reference`: parameter names, types and whether they are required;
step names where the page lists them (the pages of the EC2 runbooks and of
AWS-StartRdsInstance list none, so none are claimed here: the runner records whatever steps
an execution reports). `permissions` is what the automation role needs to run the document:
the API calls its steps make, found where AWS states them. AWS's own managed policies that run
these runbooks through Automation (AWSBudgetsActions_RolePolicyForResourceAdministrationWithSSM
for AWS-StartEC2Instance, AWS-StopEC2Instance and AWS-StartRdsInstance) grant
ec2:StartInstances, ec2:StopInstances, ec2:DescribeInstanceStatus, rds:StartDBInstance and
rds:DescribeDBInstances and nothing else; `aws:changeInstanceState` waits on the instance and
system status (DescribeInstanceStatus), not DescribeInstances. AWS-RestartEC2Instance is the
stop and the start of those; AWS-RebootRdsInstance reboots unless the instance is already
rebooting, then waits for `available` (rds:RebootDBInstance, rds:DescribeDBInstances).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from remediation.problems import Problem, join

ParameterType = Literal["String", "StringList", "Integer", "Boolean", "MapList", "StringMap"]
PARAMETER_TYPES: tuple[str, ...] = (
    "String",
    "StringList",
    "Integer",
    "Boolean",
    "MapList",
    "StringMap",
)
# Types whose value is one item (StartAutomationExecution still sends a list of one).
SINGLE_VALUED = frozenset({"String", "Integer", "Boolean"})
ASSUME_ROLE = "AutomationAssumeRole"
EC2_INSTANCE = "AWS::EC2::Instance"
RDS_INSTANCE = "AWS::RDS::DBInstance"
# ARN templates of a grant: {partition}, {region} and {account} are the stack's.
EC2_INSTANCES = "arn:{partition}:ec2:{region}:{account}:instance/*"
RDS_INSTANCES = "arn:{partition}:rds:{region}:{account}:db:*"
_REFERENCE = "https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/"
_NO_RESOURCE_LEVEL = (
    "ec2:DescribeInstanceStatus has no resource-level permissions (Service Authorization "
    "Reference): IAM authorizes it against *; it is read-only."
)
# What SSM accepts as a document name, less the prefixes it reserves for AWS.
DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,128}$")
RESERVED_PREFIXES = ("aws", "amazon", "amzn")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_STEP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_ASSUME_ROLE_VALUE = re.compile(r"^\{\{\s*AutomationAssumeRole\s*\}\}$")
_TOP_LEVEL_KEYS = frozenset(
    {"schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs", "files",
     "variables"}
)  # fmt: skip
_PARAMETER_KEYS = frozenset(
    {"type", "description", "default", "allowedValues", "allowedPattern", "displayType",
     "minItems", "maxItems", "minChars", "maxChars"}
)  # fmt: skip


class ParameterSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A document parameter as StartAutomationExecution sees it."""

    name: str
    type: ParameterType
    required: bool
    default: str | list[str] | None = None
    description: str = ""
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str = ""

    @property
    def single(self) -> bool:
        """One value (String, Integer, Boolean), not a list."""
        return self.type in SINGLE_VALUED


class StepSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A step of the document, as its reference page or its content names it."""

    name: str
    action: str = ""
    description: str = ""


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """IAM actions the automation role needs on some resources to run a document.

    `resources` are ARNs (for shipped documents, templates with {partition}, {region} and
    {account}) or "*" for actions without resource-level permissions; any wildcard carries
    `reason`, which becomes the cdk-nag acknowledgement."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str = ""


class DocumentSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A runbook a rule may name: what to call it, its parameters, steps and IAM needs."""

    name: str
    title: str
    owner: Literal["amazon", "team"]
    parameters: tuple[ParameterSpec, ...]
    steps: tuple[StepSpec, ...] = ()
    resource_type: str = ""
    permissions: tuple[Grant, ...] = ()
    reference: str = ""

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def required(self) -> tuple[str, ...]:
        """Parameters without a default: StartAutomationExecution fails without them."""
        return tuple(p.name for p in self.parameters if p.required)


def _assume_role() -> ParameterSpec:
    return ParameterSpec(
        name=ASSUME_ROLE,
        type="String",
        required=False,
        description="The role Automation assumes to run the steps (set by the runbook).",
    )


def _ec2(name: str, title: str, actions: tuple[str, ...], what: str) -> DocumentSpec:
    return DocumentSpec(
        name=name,
        title=title,
        owner="amazon",
        parameters=(
            _assume_role(),
            ParameterSpec(name="InstanceId", type="StringList", required=True, description=what),
        ),
        resource_type=EC2_INSTANCE,
        permissions=(
            Grant(actions=actions, resources=(EC2_INSTANCES,)),
            Grant(
                actions=("ec2:DescribeInstanceStatus",),
                resources=("*",),
                reason=_NO_RESOURCE_LEVEL,
            ),
        ),
        reference=f"{_REFERENCE}automation-{name.lower()}.html",
    )


def _rds(
    name: str, title: str, actions: tuple[str, ...], what: str, steps: tuple[StepSpec, ...] = ()
) -> DocumentSpec:
    return DocumentSpec(
        name=name,
        title=title,
        owner="amazon",
        parameters=(
            _assume_role(),
            ParameterSpec(name="InstanceId", type="String", required=True, description=what),
        ),
        steps=steps,
        resource_type=RDS_INSTANCE,
        permissions=(
            Grant(actions=(*actions, "rds:DescribeDBInstances"), resources=(RDS_INSTANCES,)),
        ),
        reference=f"{_REFERENCE}automation-{name.lower()}.html",
    )


SHIPPED: dict[str, DocumentSpec] = {
    spec.name: spec
    for spec in (
        _ec2(
            "AWS-RestartEC2Instance",
            "Stop and start EC2 instances (an EBS-backed instance moves to another host)",
            ("ec2:StopInstances", "ec2:StartInstances"),
            "The IDs of the EC2 instances to restart.",
        ),
        _ec2(
            "AWS-StartEC2Instance",
            "Start stopped EC2 instances",
            ("ec2:StartInstances",),
            "The EC2 instances to start.",
        ),
        _ec2(
            "AWS-StopEC2Instance",
            "Stop EC2 instances",
            ("ec2:StopInstances",),
            "The IDs of the EC2 instances to stop.",
        ),
        _rds(
            "AWS-RebootRdsInstance",
            "Reboot an RDS DB instance (unless it is already rebooting) and wait until available",
            ("rds:RebootDBInstance",),
            "The ID of the RDS DB instance to reboot.",
            steps=(
                StepSpec(
                    name="RebootInstance",
                    description="Reboots the DB instance if it is not already rebooting.",
                ),
                StepSpec(
                    name="WaitForAvailableState",
                    description="Waits for the DB instance to complete the reboot process.",
                ),
            ),
        ),
        _rds(
            "AWS-StartRdsInstance",
            "Start a stopped RDS DB instance",
            ("rds:StartDBInstance",),
            "The ID of the RDS DB instance to start.",
        ),
    )
}


def deployed_name(prefix: str, key: str) -> str:
    """The SSM name of the team's document `key` as the stack deploys it: `<prefix>-<key>`."""
    return f"{prefix}-{key}"


def name_problem(name: str) -> str:
    """Why SSM would refuse this name for a document of ours, or ''."""
    if not DOCUMENT_NAME.fullmatch(name):
        return f"{name!r} is not a valid SSM document name (3-128 of A-Z a-z 0-9 _ - .)"
    if name.lower().startswith(RESERVED_PREFIXES):
        return f"{name!r} starts with a prefix SSM reserves for AWS (aws, amazon, amzn)"
    return ""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _default(value: Any) -> str | list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return msgspec.json.encode(value).decode()
    return _text(value)


def _parameter(name: str, raw: Any, problems: list[Problem]) -> ParameterSpec | None:
    path = join("parameters", name)
    if not _PARAMETER_NAME.fullmatch(name):
        problems.append(Problem(path, "a parameter name is 1-128 of A-Z a-z 0-9 _ . -"))
        return None
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be a mapping with at least `type`"))
        return None
    for key in sorted(set(raw) - _PARAMETER_KEYS):
        problems.append(Problem(join(path, str(key)), "unknown key of an Automation parameter"))
    kind = raw.get("type")
    if kind not in PARAMETER_TYPES:
        problems.append(
            Problem(join(path, "type"), f"{kind!r}: one of {', '.join(PARAMETER_TYPES)}")
        )
        return None
    allowed = raw.get("allowedValues", [])
    if not isinstance(allowed, list):
        problems.append(Problem(join(path, "allowedValues"), "must be a list"))
        allowed = []
    pattern = raw.get("allowedPattern") or ""
    if pattern:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            problems.append(
                Problem(join(path, "allowedPattern"), f"not a regular expression: {exc}")
            )
            pattern = ""
    default = raw.get("default")
    if kind == "StringList" and default is not None and not isinstance(default, list):
        problems.append(Problem(join(path, "default"), "a StringList default is a list"))
    return ParameterSpec(
        name=name,
        type=kind,
        required="default" not in raw,
        default=_default(default),
        description=str(raw.get("description") or ""),
        allowed_values=tuple(_text(v) for v in allowed),
        allowed_pattern=str(pattern),
    )


def _steps(raw: Any, problems: list[Problem]) -> list[StepSpec]:
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("mainSteps", "must be a non-empty list of steps"))
        return []
    steps: list[StepSpec] = []
    seen: set[str] = set()
    for index, step in enumerate(raw):
        path = join("mainSteps", index)
        if not isinstance(step, Mapping):
            problems.append(Problem(path, "a step is a mapping with `name` and `action`"))
            continue
        name, action = step.get("name"), step.get("action")
        if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
            problems.append(Problem(join(path, "name"), "a step name is 1-128 of A-Z a-z 0-9 _ -"))
            continue
        if name in seen:
            problems.append(Problem(join(path, "name"), f"duplicate step name {name!r}"))
        seen.add(name)
        if not isinstance(action, str) or not action.startswith("aws:"):
            problems.append(Problem(join(path, "action"), "an Automation action, `aws:...`"))
            continue
        steps.append(
            StepSpec(name=name, action=action, description=str(step.get("description") or ""))
        )
    return steps


def parse_document(
    content: Any, name: str, title: str = "", resource_type: str = ""
) -> tuple[DocumentSpec | None, list[Problem]]:
    """The team's schemaVersion 0.3 Automation document, read for its parameters and steps.

    Paths in the problems are relative to the document. It must run as the runbook's
    automation role (`assumeRole: "{{ AutomationAssumeRole }}"` and that parameter), or it
    would run with the permissions of whoever starts it: the step's own role."""
    problems: list[Problem] = []
    if not isinstance(content, Mapping):
        return None, [Problem("", "an Automation document is a mapping (YAML or JSON object)")]
    for key in sorted(set(content) - _TOP_LEVEL_KEYS, key=str):
        problems.append(Problem(str(key), "unknown top-level key of a schemaVersion 0.3 document"))
    if str(content.get("schemaVersion")) != "0.3":
        problems.append(
            Problem(
                "schemaVersion", f'{content.get("schemaVersion")!r}: Automation documents are "0.3"'
            )
        )
    raw_parameters = content.get("parameters") or {}
    if not isinstance(raw_parameters, Mapping):
        problems.append(Problem("parameters", "must be a mapping of parameter name to definition"))
        raw_parameters = {}
    parameters = [
        p for n, raw in raw_parameters.items() if (p := _parameter(str(n), raw, problems))
    ]
    role = next((p for p in parameters if p.name == ASSUME_ROLE), None)
    if role is None or role.type != "String":
        problems.append(
            Problem(
                join("parameters", ASSUME_ROLE),
                "declare it (type: String) so the document runs as the runbook's automation role",
            )
        )
    if not _ASSUME_ROLE_VALUE.fullmatch(str(content.get("assumeRole", "")).strip()):
        problems.append(
            Problem(
                "assumeRole",
                'must be "{{ AutomationAssumeRole }}" (the runbook\'s automation role)',
            )
        )
    steps = _steps(content.get("mainSteps"), problems)
    if problems:
        return None, problems
    spec = DocumentSpec(
        name=name,
        title=title or str(content.get("description") or name).strip().splitlines()[0][:200],
        owner="team",
        parameters=tuple(parameters),
        steps=tuple(steps),
        resource_type=resource_type,
    )
    return spec, []


def normalised_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """The document as the stack deploys it: schemaVersion as the string SSM expects (an
    unquoted `0.3` in YAML is a number)."""
    return {**content, "schemaVersion": "0.3"}


ReadFile = Callable[[str], Any]


def file_reader(base: Path) -> ReadFile:
    """Reads a document given relative to `base` (the response file's directory), YAML or
    JSON; never a path outside `base`. PyYAML is imported here, at synth only."""
    root = base.resolve()

    def read(relative: str) -> Any:
        import yaml  # synth-time only: not in the Lambda asset

        candidate = Path(relative)
        if candidate.is_absolute():
            raise ValueError(f"{relative}: give the path relative to the response file")
        path = (root / candidate).resolve()
        if root not in path.parents:
            raise ValueError(f"{relative}: outside the response file's directory")
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)

    return read
