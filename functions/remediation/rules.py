"""The `remediation` section of the response declaration file (docs/remediation.md): its
records, its validation, and the compiled form the Lambda steps match incidents against.

`check_section` validates everything it can in one pass and names every mistake by its field
path relative to the section (`rules[0].parameters.InstanceIds: unknown parameter of
AWS-RestartEC2Instance (known: AutomationAssumeRole, InstanceId)`): unknown keys, an unknown
document, an unknown, missing or mistyped parameter, an unknown placeholder, a bad pattern or
duration. The response-file loader maps the paths to file lines. `RemediationConfig` is what
reaches the functions: plain data, JSON-encodable, nothing left to resolve.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from oncall import declaration, durations
from remediation import placeholders
from remediation.documents import (
    ASSUME_ROLE,
    SHIPPED,
    DocumentSpec,
    Grant,
    ParameterSpec,
    ReadFile,
    deployed_name,
    name_problem,
    normalised_content,
    parse_document,
)
from remediation.problems import Problem, RemediationConfigError, join

Severity = Literal["critical", "high", "standard"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "standard")
# The verdict's fault domains (diagnostics/finding.py); "undetermined" is not one a fix follows.
Domain = Literal["aws", "infrastructure", "application", "outside"]
DOMAINS: tuple[str, ...] = ("aws", "infrastructure", "application", "outside")
ID = re.compile(rf"^{declaration.ID.pattern}$")
SLACK_USER = re.compile(rf"^{declaration.SLACK_USER.pattern}$")
_RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$")
_CAUSE_GLOB = re.compile(r"^[a-z0-9_.*?\[\]-]+$")
_IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
DEFAULT_APPROVAL_TIMEOUT = "15m"
DEFAULT_EXECUTION_TIMEOUT = "30m"
MAX_APPROVAL_SECONDS = 24 * 3600
MAX_EXECUTION_SECONDS = 12 * 3600
DEFAULT_DOCUMENT_PREFIX = "IncidentRunbook"

Scalar = str | int | float | bool


class _Section(
    msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True, frozen=True
):
    """Keys in the file are camelCase; a key the schema does not know is an error."""


class GrantEntry(_Section, frozen=True):
    """Extra IAM for the automation role: `{actions: [...], resources: [...], reason}`."""

    actions: list[str]
    resources: list[str]
    reason: str = ""


class DocumentEntry(_Section, frozen=True):
    """One of the team's own Automation documents, deployed by the stack."""

    file: str
    description: str = ""
    resource_type: str = ""
    permissions: list[GrantEntry] = msgspec.field(default_factory=list)


class Match(_Section, frozen=True):
    """When a rule applies; every condition given must hold, an absent one holds always."""

    domain: Domain | list[Domain] | None = None
    cause: str | list[str] | None = None
    resource_type: str | None = None
    alarm_name: str | None = None
    severity: Severity | list[Severity] | None = None


class RuleEntry(_Section, frozen=True):
    """A rule as written: match -> document with parameters, approval and timeouts."""

    id: str
    match: Match
    document: str
    description: str = ""
    # Values are checked per parameter (_parameters), so a mistake names its parameter.
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    auto_approve: list[Severity] = msgspec.field(default_factory=list)
    approvers: list[str] = msgspec.field(default_factory=list)
    approval_timeout: str | int = DEFAULT_APPROVAL_TIMEOUT
    execution_timeout: str | int = DEFAULT_EXECUTION_TIMEOUT


# ---- The compiled form the functions use (snake_case JSON, like the rest of the state). ----


class RuleMatch(msgspec.Struct, frozen=True, kw_only=True):
    """The match, normalised: empty tuples and '' mean "any"."""

    domains: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    resource_type: str = ""
    alarm_name: str = ""
    severities: tuple[str, ...] = ()


class CompiledRule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    description: str
    match: RuleMatch
    document: str
    parameters: dict[str, tuple[str, ...]]
    auto_approve: tuple[str, ...]
    approvers: tuple[str, ...]
    approval_timeout_seconds: int
    execution_timeout_seconds: int


class RemediationConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Rules in order (first match wins) and the team's documents they name, by key. AWS
    documents come from the catalogue shipped with the code (documents.SHIPPED), which keeps
    this small: it travels to the functions as JSON."""

    rules: tuple[CompiledRule, ...] = ()
    team_documents: dict[str, DocumentSpec] = msgspec.field(default_factory=dict)

    def document(self, rule: CompiledRule) -> DocumentSpec:
        """The document a rule runs (its team document by key, else the AWS one)."""
        return self.team_documents.get(rule.document) or SHIPPED[rule.document]

    @property
    def documents(self) -> dict[str, DocumentSpec]:
        """Every document some rule runs, once each, by the rules' name for it."""
        return {rule.document: self.document(rule) for rule in self.rules}


class TeamDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A team document as the stack deploys it (`AWS::SSM::Document`)."""

    key: str
    spec: DocumentSpec
    content: dict[str, Any]


class LoadedSection(msgspec.Struct, frozen=True, kw_only=True):
    """What synth gets from the section: the functions' config, the documents to deploy,
    and the extra grants for the automation role."""

    config: RemediationConfig
    team_documents: tuple[TeamDocument, ...] = ()
    permissions: tuple[Grant, ...] = ()

    @property
    def used_documents(self) -> tuple[DocumentSpec, ...]:
        """The documents some rule runs, each once, in rule order (the role's scope)."""
        return tuple(self.config.documents.values())


def encode_config(config: RemediationConfig) -> bytes:
    """JSON for the functions (an environment variable or a file in the asset)."""
    return msgspec.json.encode(config)


def decode_config(raw: bytes | str) -> RemediationConfig:
    """The functions' side of `encode_config`; raises RemediationConfigError if malformed."""
    try:
        config = msgspec.json.decode(raw, type=RemediationConfig)
    except msgspec.ValidationError as exc:
        raise RemediationConfigError([_from_msgspec("", exc)]) from None
    except msgspec.DecodeError as exc:
        raise RemediationConfigError([Problem("", f"not valid JSON: {exc}")]) from None
    unknown = [
        Problem(join("rules", n, "document"), f"unknown document {rule.document!r}")
        for n, rule in enumerate(config.rules)
        if rule.document not in config.team_documents and rule.document not in SHIPPED
    ]
    if unknown:
        raise RemediationConfigError(unknown)
    return config


def parse_duration(value: Any) -> int:
    """Seconds, in the declaration file's notation (oncall.durations, docs/oncall.md
    "Values"); a remediation's timeouts last at least one second. Raises ValueError."""
    seconds = durations.parse_duration(value)
    if seconds < 1:
        raise ValueError(f"{value!r}: a duration lasts at least one second")
    return seconds


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
# The values an enumerated field takes, said when a value is not one of them.
_ALLOWED = {"domain": DOMAINS, "severity": SEVERITIES, "autoApprove": SEVERITIES}


def _from_msgspec(prefix: str, error: msgspec.ValidationError) -> Problem:
    """msgspec's "Expected `str`, got `int` - at `$.match.alarmName`" as a Problem."""
    found = _AT.match(str(error))
    message = found.group("message") if found else str(error)
    path = (found.group("path") or "").lstrip(".") if found else ""
    where = prefix + path if path.startswith("[") else join(prefix, path)
    field = re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]
    if message.startswith("Invalid enum value") and field in _ALLOWED:
        message += f" (known: {', '.join(_ALLOWED[field])})"
    return Problem(where, message)


def _convert(data: Any, kind: type[Any], path: str, problems: list[Problem]) -> Any:
    """`data` as `kind`. For a record, every unknown key is reported (not only the first,
    as msgspec would) and the rest is still checked."""
    if isinstance(data, Mapping) and isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        known = {f.encode_name for f in msgspec.structs.fields(kind)}
        unknown = sorted((k for k in data if k not in known), key=str)
        for key in unknown:
            problems.append(
                Problem(join(path, str(key)), f"unknown key (known: {', '.join(sorted(known))})")
            )
        data = {k: v for k, v in data.items() if k in known}
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        problems.append(_from_msgspec(path, exc))
        return None


def _listed(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _grants(entries: list[GrantEntry], path: str, problems: list[Problem]) -> tuple[Grant, ...]:
    """Team grants: named actions only (no `*`), ARNs or "*", a reason for any wildcard."""
    grants = []
    for index, entry in enumerate(entries):
        where = join(path, index)
        ok = bool(entry.actions and entry.resources)
        if not entry.actions:
            problems.append(Problem(join(where, "actions"), "name at least one action"))
        if not entry.resources:
            problems.append(Problem(join(where, "resources"), "name at least one resource ARN"))
        for n, action in enumerate(entry.actions):
            if not _IAM_ACTION.fullmatch(action):
                ok = False
                problems.append(
                    Problem(
                        join(where, "actions", n),
                        f"{action!r}: a named action (service:Action), no wildcards",
                    )
                )
        for n, resource in enumerate(entry.resources):
            if resource != "*" and not resource.startswith("arn:"):
                ok = False
                problems.append(Problem(join(where, "resources", n), f"{resource!r}: an ARN or *"))
        if any("*" in r for r in entry.resources) and len(entry.reason.strip()) < 20:
            ok = False
            problems.append(
                Problem(
                    join(where, "reason"),
                    "a wildcard resource needs a reason (at least 20 characters): it is the "
                    "cdk-nag acknowledgement",
                )
            )
        if ok:
            grants.append(
                Grant(
                    actions=tuple(entry.actions),
                    resources=tuple(entry.resources),
                    reason=entry.reason.strip(),
                )
            )
    return tuple(grants)


def _team_documents(
    raw: Any, read_file: ReadFile | None, prefix: str, problems: list[Problem]
) -> dict[str, TeamDocument]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(Problem("documents", "a mapping of document key to {file: ...}"))
        return {}
    documents = {}
    for key, value in raw.items():
        path = join("documents", str(key))
        if not isinstance(key, str) or not ID.fullmatch(key):
            problems.append(Problem(path, "a document key is [a-z0-9][a-z0-9_-]{0,62}"))
            continue
        entry = _convert(value, DocumentEntry, path, problems)
        if entry is None:
            continue
        name = deployed_name(prefix, key)
        if why := name_problem(name):
            problems.append(Problem(path, f"deployed as {why}"))
            continue
        if entry.resource_type and not _RESOURCE_TYPE.fullmatch(entry.resource_type):
            problems.append(
                Problem(join(path, "resourceType"), "a CloudFormation type, e.g. AWS::ECS::Service")
            )
        permissions = _grants(entry.permissions, join(path, "permissions"), problems)
        if read_file is None:
            problems.append(Problem(join(path, "file"), "documents cannot be read here"))
            continue
        try:
            content = read_file(entry.file)
        except Exception as exc:  # the reader is the loader's: OSError, YAML errors, refusals
            problems.append(
                Problem(join(path, "file"), f"{entry.file}: {type(exc).__name__}: {exc}")
            )
            continue
        spec, found = parse_document(content, name, entry.description, entry.resource_type)
        problems += [Problem(join(path, "file"), f"{entry.file}: {p}") for p in found]
        if spec is None:
            continue
        spec = msgspec.structs.replace(spec, permissions=permissions)
        documents[key] = TeamDocument(key=key, spec=spec, content=normalised_content(content))
    return documents


def _match(match: Match, path: str, problems: list[Problem]) -> RuleMatch:
    conditions = (match.domain, match.cause, match.resource_type, match.alarm_name, match.severity)
    if all(c is None for c in conditions):
        problems.append(
            Problem(
                path, "give at least one condition: a rule that matches every incident fixes none"
            )
        )
    causes = _listed(match.cause)
    for n, cause in enumerate(causes):
        if not _CAUSE_GLOB.fullmatch(cause):
            where = join(path, "cause", n) if isinstance(match.cause, list) else join(path, "cause")
            problems.append(
                Problem(where, f"{cause!r}: a cause code or glob, e.g. ec2.system_status_*")
            )
    if match.resource_type is not None and not _RESOURCE_TYPE.fullmatch(match.resource_type):
        problems.append(
            Problem(join(path, "resourceType"), "a CloudFormation type, e.g. AWS::EC2::Instance")
        )
    if match.alarm_name is not None:
        try:
            re.compile(match.alarm_name)
        except re.error as exc:
            problems.append(Problem(join(path, "alarmName"), f"not a regular expression: {exc}"))
    return RuleMatch(
        domains=_listed(match.domain),
        causes=causes,
        resource_type=match.resource_type or "",
        alarm_name=match.alarm_name or "",
        severities=_listed(match.severity),
    )


def _value_problems(
    document: DocumentSpec, spec: ParameterSpec, values: tuple[str, ...], path: str
) -> list[Problem]:
    """Placeholders known; one value for a single-valued parameter; constants allowed."""
    problems = []
    for n, value in enumerate(values):
        where = join(path, n) if len(values) > 1 else path
        try:
            names = placeholders.names_in(value)
        except placeholders.PlaceholderError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        if names:
            continue
        if spec.allowed_values and value not in spec.allowed_values:
            problems.append(
                Problem(where, f"{value!r} is not one of {', '.join(spec.allowed_values)}")
            )
        elif spec.allowed_pattern and not re.fullmatch(spec.allowed_pattern, value):
            problems.append(Problem(where, f"{value!r} does not match {spec.allowed_pattern}"))
        elif spec.type == "Integer" and not re.fullmatch(r"-?\d+", value):
            problems.append(Problem(where, f"{value!r}: {spec.name} is an Integer"))
        elif spec.type == "Boolean" and value not in ("true", "false"):
            problems.append(Problem(where, f"{value!r}: {spec.name} is a Boolean (true or false)"))
    if spec.single and len(values) != 1:
        problems.append(
            Problem(path, f"{spec.name} of {document.name} is a {spec.type}: give one value")
        )
    # A single-valued parameter may still hold {resource.id}: the rule then proposes only
    # while exactly one resource is in scope (matching.py says why otherwise).
    return problems


def _parameters(
    entry: RuleEntry, document: DocumentSpec, path: str, problems: list[Problem]
) -> dict[str, tuple[str, ...]]:
    known = ", ".join(sorted(document.parameter_names))
    filled: dict[str, tuple[str, ...]] = {}
    for name, raw in entry.parameters.items():
        where = join(path, "parameters", name)
        spec = document.parameter(name)
        if spec is None:
            problems.append(
                Problem(where, f"unknown parameter of {document.name} (known: {known})")
            )
            continue
        if name == ASSUME_ROLE:
            problems.append(
                Problem(where, "set by the runbook to its automation role; remove it from the rule")
            )
            continue
        items = raw if isinstance(raw, list) else [raw]
        if not items or not all(isinstance(v, str | int | float | bool) for v in items):
            problems.append(
                Problem(where, "a value (string, number, true/false) or a list of them")
            )
            continue
        values = tuple(_text(v) for v in items)
        problems += _value_problems(document, spec, values, where)
        filled[name] = values
    for name in document.required:
        if name not in entry.parameters and name != ASSUME_ROLE:
            problems.append(
                Problem(
                    join(path, "parameters"),
                    f"missing required parameter {name} of {document.name}",
                )
            )
    return filled


def _rule(
    raw: Any,
    index: int,
    documents: Mapping[str, DocumentSpec],
    declared: set[str],
    seen: set[str],
    problems: list[Problem],
) -> CompiledRule | None:
    path = join("rules", index)
    before = len(problems)
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "a rule is a mapping: id, match, document, parameters"))
        return None
    # The match on its own, so mistakes in it and in the rest of the rule are all reported.
    written = _convert(raw.get("match", {}), Match, join(path, "match"), problems)
    if "match" not in raw:
        problems.append(Problem(join(path, "match"), "required: when the rule applies"))
        written = None
    entry = _convert({**raw, "match": {}}, RuleEntry, path, problems)
    if entry is None:
        return None
    entry = msgspec.structs.replace(entry, match=written or Match())
    if not ID.fullmatch(entry.id):
        problems.append(Problem(join(path, "id"), "a rule id is [a-z0-9][a-z0-9_-]{0,62}"))
    elif entry.id in seen:
        problems.append(Problem(join(path, "id"), f"duplicate rule id {entry.id!r}"))
    seen.add(entry.id)
    match = _match(entry.match, join(path, "match"), problems if written else [])
    document = documents.get(entry.document)
    parameters: dict[str, tuple[str, ...]] = {}
    if document is None and entry.document in declared:
        problems.append(
            Problem(
                join(path, "document"),
                f"the document {entry.document!r} has mistakes (see documents.{entry.document})",
            )
        )
    elif document is None:
        known = ", ".join([*SHIPPED, *(k for k in [*documents, *declared] if k not in SHIPPED)])
        problems.append(
            Problem(join(path, "document"), f"unknown document {entry.document!r} (known: {known})")
        )
    else:
        if (
            _RESOURCE_TYPE.fullmatch(match.resource_type)
            and document.resource_type
            and match.resource_type != document.resource_type
        ):
            problems.append(
                Problem(
                    join(path, "match", "resourceType"),
                    f"{document.name} acts on {document.resource_type}, not {match.resource_type}",
                )
            )
        if not match.resource_type and document.resource_type:
            match = msgspec.structs.replace(match, resource_type=document.resource_type)
        parameters = _parameters(entry, document, path, problems)
        uses_resources = any(
            "{" + placeholders.RESOURCE_ID + "}" in v or "{" + placeholders.RESOURCE_TYPE + "}" in v
            for values in parameters.values()
            for v in values
        )
        if uses_resources and not match.resource_type:
            problems.append(
                Problem(
                    join(path, "match", "resourceType"),
                    "the parameters use {resource.*}: say which resources (a CloudFormation type)",
                )
            )
    for n, severity in enumerate(entry.auto_approve):
        if entry.auto_approve.count(severity) > 1 and entry.auto_approve.index(severity) != n:
            problems.append(Problem(join(path, "autoApprove", n), f"{severity} listed twice"))
    for n, user in enumerate(entry.approvers):
        if not SLACK_USER.fullmatch(user):
            problems.append(
                Problem(join(path, "approvers", n), f"{user!r}: a Slack user id (U.../W...)")
            )
    timeouts = {}
    for key, value, limit in (
        ("approvalTimeout", entry.approval_timeout, MAX_APPROVAL_SECONDS),
        ("executionTimeout", entry.execution_timeout, MAX_EXECUTION_SECONDS),
    ):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            problems.append(Problem(join(path, key), str(exc)))
            continue
        if seconds > limit:
            problems.append(Problem(join(path, key), f"{value!r}: at most {limit // 3600}h"))
            continue
        timeouts[key] = seconds
    if len(problems) > before or document is None:
        return None
    return CompiledRule(
        id=entry.id,
        description=entry.description.strip() or document.title,
        match=match,
        document=entry.document,
        parameters=parameters,
        auto_approve=tuple(dict.fromkeys(entry.auto_approve)),
        approvers=tuple(dict.fromkeys(entry.approvers)),
        approval_timeout_seconds=timeouts["approvalTimeout"],
        execution_timeout_seconds=timeouts["executionTimeout"],
    )


def check_section(
    data: Any, read_file: ReadFile | None = None, prefix: str = DEFAULT_DOCUMENT_PREFIX
) -> tuple[LoadedSection | None, list[Problem]]:
    """The section (`data` as parsed from YAML, None when absent) compiled, or None with
    every problem found. `read_file` reads the team's documents relative to the response
    file (documents.file_reader); `prefix` makes their SSM names (the stack's name)."""
    if data is None:
        return LoadedSection(config=RemediationConfig()), []
    if not isinstance(data, Mapping):
        return None, [
            Problem("", "the remediation section is a mapping: documents, rules, permissions")
        ]
    problems: list[Problem] = []
    for key in sorted(set(data) - {"documents", "rules", "permissions"}, key=str):
        problems.append(Problem(str(key), "unknown key (known: documents, rules, permissions)"))
    team = _team_documents(data.get("documents"), read_file, prefix, problems)
    raw_grants = _convert(data.get("permissions") or [], list[GrantEntry], "permissions", problems)
    permissions = _grants(raw_grants or [], "permissions", problems)
    for key in team:
        if key in SHIPPED:
            problems.append(Problem(join("documents", key), "the name of a shipped AWS document"))
    available: dict[str, DocumentSpec] = {**SHIPPED, **{k: d.spec for k, d in team.items()}}
    raw_documents = data.get("documents")
    declared = {str(k) for k in raw_documents} if isinstance(raw_documents, Mapping) else set()
    raw_rules = data.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        problems.append(Problem("rules", "a list of rules (first match wins)"))
        raw_rules = []
    seen: set[str] = set()
    rules = [
        rule
        for index, raw in enumerate(raw_rules)
        if (rule := _rule(raw, index, available, declared, seen, problems)) is not None
    ]
    if problems:
        return None, problems
    used = {r.document: team[r.document].spec for r in rules if r.document in team}
    config = RemediationConfig(rules=tuple(rules), team_documents=used)
    loaded = LoadedSection(
        config=config, team_documents=tuple(team.values()), permissions=permissions
    )
    return loaded, []


def validate_section(data: Any, read_file: ReadFile | None = None) -> list[Problem]:
    """Every mistake in the section, with field paths relative to it (empty: it is valid)."""
    return check_section(data, read_file)[1]


def load_section(
    data: Any, read_file: ReadFile | None = None, prefix: str = DEFAULT_DOCUMENT_PREFIX
) -> LoadedSection:
    """The compiled section; raises RemediationConfigError listing every problem."""
    loaded, problems = check_section(data, read_file, prefix)
    if loaded is None:
        raise RemediationConfigError(problems)
    return loaded


def cause_matches(pattern: str, code: str) -> bool:
    """A cause glob (`ec2.system_status_*`) against a cause code, case-sensitively."""
    return fnmatch.fnmatchcase(code, pattern)
