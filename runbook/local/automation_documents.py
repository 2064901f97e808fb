"""Automation runbooks (SSM documents of schemaVersion 0.3) as the emulator runs them.

Two sources: the AWS-owned runbooks the remediation rules ship for (``CATALOGUE``: their names,
parameters and step names as AWS's Automation runbook reference documents them; moto has no
AWS-owned documents at all), and the account's own Automation documents, created in moto with
CreateDocument or ``AWS::SSM::Document`` (``parse_document``).

``resolve_parameters`` checks what StartAutomationExecution was given against the document's
declared parameters the way Automation does (an undeclared name, a missing required one, a
value outside ``allowedValues`` -> InvalidAutomationExecutionParametersException) and fills in
defaults; ``substitute`` renders ``{{ Name }}`` references in step inputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runbook.local.json_api import ApiError

AMAZON = "Amazon"
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.:\-]+)\s*\}\}")
_NO_DEFAULT = object()


def invalid_parameters(message: str) -> ApiError:
    return ApiError("InvalidAutomationExecutionParametersException", message)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "String"
    default: Any = _NO_DEFAULT
    allowed_values: tuple[str, ...] = ()
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def default_values(self) -> list[str]:
        """The default as parameter values; an empty string is no value (a parameter value is
        at least one character long)."""
        if self.default is _NO_DEFAULT:
            return []
        values = self.default if isinstance(self.default, list) else [self.default]
        return [text for text in (_text(v) for v in values) if text]


@dataclass(frozen=True)
class Step:
    """A ``mainSteps`` entry: what StepExecution reports about it, and where to go next."""

    name: str
    action: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[dict[str, Any], ...] = ()
    on_failure: str = "Abort"
    is_end: bool = False
    next_step: str | None = None
    is_critical: bool = True
    timeout_seconds: int | None = None
    max_attempts: int = 1


@dataclass(frozen=True)
class AutomationDocument:
    name: str
    version: str
    owner: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    outputs: tuple[str, ...] = ()
    description: str = ""

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def parse_content(
    name: str, content: dict[str, Any], version: str, owner: str
) -> AutomationDocument:
    """An Automation document from its content (the JSON/YAML of schemaVersion 0.3)."""
    if str(content.get("schemaVersion")) != "0.3":
        raise ApiError(
            "AutomationDefinitionNotFoundException",
            f"{name} is not an Automation runbook (schemaVersion 0.3).",
        )
    parameters = []
    for pname, spec in (content.get("parameters") or {}).items():
        spec = spec or {}
        parameters.append(
            Parameter(
                name=str(pname),
                type=str(spec.get("type", "String")),
                default=spec.get("default", _NO_DEFAULT),
                allowed_values=tuple(_text(v) for v in spec.get("allowedValues") or ()),
                description=str(spec.get("description", "")),
            )
        )
    steps = []
    for raw in content.get("mainSteps") or []:
        steps.append(
            Step(
                name=str(raw["name"]),
                action=str(raw["action"]),
                inputs=dict(raw.get("inputs") or {}),
                outputs=tuple(raw.get("outputs") or ()),
                on_failure=str(raw.get("onFailure", "Abort")),
                is_end=bool(raw.get("isEnd", False)),
                next_step=raw.get("nextStep"),
                is_critical=bool(raw.get("isCritical", True)),
                timeout_seconds=raw.get("timeoutSeconds"),
                max_attempts=int(raw.get("maxAttempts", 1)),
            )
        )
    if not steps:
        raise ApiError("AutomationDefinitionNotFoundException", f"{name} has no mainSteps.")
    outputs = content.get("outputs") or []
    return AutomationDocument(
        name=name,
        version=version,
        owner=owner,
        parameters=tuple(parameters),
        steps=tuple(steps),
        outputs=tuple(str(o) for o in (outputs if isinstance(outputs, list) else [outputs])),
        description=str(content.get("description", "")),
    )


# -- the AWS-owned runbooks ----------------------------------------------------------------
_ASSUME_ROLE = {
    "type": "String",
    "description": "(Optional) The Amazon Resource Name (ARN) of the AWS Identity and Access "
    "Management (IAM) role that allows Systems Manager Automation to perform the actions on "
    "your behalf. If no role is specified, Systems Manager Automation uses the permissions of "
    "the user that starts this runbook.",
    "default": "",
}


def _ec2_state(name: str, state: str) -> dict[str, Any]:
    return {
        "name": name,
        "action": "aws:changeInstanceState",
        "inputs": {"InstanceIds": "{{ InstanceId }}", "DesiredState": state},
    }


CATALOGUE_CONTENT: dict[str, dict[str, Any]] = {
    # AWS Systems Manager Automation runbook reference: AWS-RestartEC2Instance ("Restart one or
    # more Amazon EC2 instances"); its content is the stop-then-start pair of
    # aws:changeInstanceState steps.
    "AWS-RestartEC2Instance": {
        "description": "Restart EC2 instances(s)",
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "InstanceId": {
                "type": "StringList",
                "description": "(Required) The IDs of the Amazon EC2 instances to restart.",
            },
            "AutomationAssumeRole": _ASSUME_ROLE,
        },
        "mainSteps": [
            _ec2_state("stopInstances", "stopped"),
            _ec2_state("startInstances", "running"),
        ],
    },
    "AWS-StopEC2Instance": {
        "description": "Stop EC2 instances(s)",
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "InstanceId": {
                "type": "StringList",
                "description": "(Required) EC2 instances to stop.",
            },
            "AutomationAssumeRole": _ASSUME_ROLE,
        },
        "mainSteps": [_ec2_state("stopInstances", "stopped")],
    },
    "AWS-StartEC2Instance": {
        "description": "Start EC2 instances(s)",
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "InstanceId": {
                "type": "StringList",
                "description": "(Required) EC2 instances to start.",
            },
            "AutomationAssumeRole": _ASSUME_ROLE,
        },
        "mainSteps": [_ec2_state("startInstances", "running")],
    },
    # AWS-RebootRdsInstance: "reboots an Amazon RDS DB instance if it isn't already rebooting";
    # document steps RebootInstance, then WaitForAvailableState; no outputs.
    "AWS-RebootRdsInstance": {
        "description": "Reboot RDS Instance",
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "InstanceId": {
                "type": "String",
                "description": "(Required) The ID of the Amazon RDS DB instance that you want "
                "to reboot.",
            },
            "AutomationAssumeRole": _ASSUME_ROLE,
        },
        "mainSteps": [
            {
                "name": "RebootInstance",
                "action": "aws:executeAwsApi",
                "inputs": {
                    "Service": "rds",
                    "Api": "RebootDBInstance",
                    "DBInstanceIdentifier": "{{ InstanceId }}",
                },
            },
            {
                "name": "WaitForAvailableState",
                "action": "aws:waitForAwsResourceProperty",
                "inputs": {
                    "Service": "rds",
                    "Api": "DescribeDBInstances",
                    "DBInstanceIdentifier": "{{ InstanceId }}",
                    "PropertySelector": "$.DBInstances[0].DBInstanceStatus",
                    "DesiredValues": ["available"],
                },
            },
        ],
    },
}

CATALOGUE: dict[str, AutomationDocument] = {
    name: parse_content(name, content, "1", AMAZON) for name, content in CATALOGUE_CONTENT.items()
}


def document_name(identifier: str) -> str:
    """A document name from a name or an ARN (``arn:aws:ssm:REGION::document/NAME``)."""
    if identifier.startswith("arn:"):
        return identifier.rsplit("/", 1)[-1]
    return identifier


# -- parameters ----------------------------------------------------------------------------
def resolve_parameters(
    document: AutomationDocument, given: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The execution's parameters: ``given`` checked against the declared ones, defaults
    filled in (what GetAutomationExecution reports as ``Parameters``)."""
    declared = {p.name: p for p in document.parameters}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(unknown)
        raise invalid_parameters(f"Parameters [{names}] are not defined in {document.name}.")
    resolved: dict[str, list[str]] = {}
    for parameter in document.parameters:
        values = [str(v) for v in given.get(parameter.name, [])]
        if parameter.name not in given:
            if parameter.required:
                raise invalid_parameters(
                    f"Missing required parameter: {parameter.name} in user inputs."
                )
            values = parameter.default_values()
        if parameter.type in ("String", "Integer", "Boolean") and len(values) > 1:
            raise invalid_parameters(
                f'Parameter "{parameter.name}" is a {parameter.type}: one value, not {len(values)}.'
            )
        for value in values:
            if parameter.allowed_values and value not in parameter.allowed_values:
                allowed = ", ".join(parameter.allowed_values)
                raise invalid_parameters(
                    f'Parameter "{parameter.name}" has value "{value}" not found in [{allowed}].'
                )
            if parameter.type == "Integer" and not re.fullmatch(r"-?\d+", value):
                raise invalid_parameters(f'Parameter "{parameter.name}" is not an Integer.')
            if parameter.type == "Boolean" and value.lower() not in ("true", "false"):
                raise invalid_parameters(f'Parameter "{parameter.name}" is not a Boolean.')
        resolved[parameter.name] = values
    return resolved


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """``{{ Name }}`` references rendered: a string that is one reference becomes the value
    itself (a StringList stays a list); references inside text are rendered as text. Unknown
    references are left as written, as Automation leaves them."""
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if not isinstance(value, str):
        return value
    whole = _REFERENCE.fullmatch(value.strip())
    if whole and whole.group(1) in variables:
        return variables[whole.group(1)]

    def render(found: re.Match[str]) -> str:
        name = found.group(1)
        return _text(variables[name]) if name in variables else found.group(0)

    return _REFERENCE.sub(render, value)


def parameter_variables(
    document: AutomationDocument, parameters: dict[str, list[str]]
) -> dict[str, Any]:
    """Parameter name -> the value a reference renders to (a list for StringList)."""
    types = {p.name: p.type for p in document.parameters}
    variables: dict[str, Any] = {}
    for name, values in parameters.items():
        kind = types.get(name, "String")
        if kind == "StringList":
            variables[name] = list(values)
        elif kind == "Integer":
            variables[name] = int(values[0]) if values else None
        elif kind == "Boolean":
            variables[name] = bool(values) and values[0].lower() == "true"
        elif kind in ("StringMap", "MapList"):
            variables[name] = json.loads(values[0]) if values else None
        else:
            variables[name] = values[0] if values else ""
    return variables
