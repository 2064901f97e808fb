"""The synth-time loader of incident-response.yaml (stacks/response_file.py): the shipped
example compiles, each kind of mistake is named by file, line and field (all at once), the
remediation section's problems land on their lines, and every file the Incident Manager
importer writes from the saved fixtures loads without a problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from oncall.declaration import ResponsePlan, decode_config, encode_config
from runbook.cli import main
from stacks.response_file import ResponseFileError, check_response_file, load_response_file
from tests.oncall_declaration import problems as structural_problems

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "incident-response.yaml"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "incident_manager"

VALID = """\
version: 1
timezone: Europe/London
contacts:
  alice:
    name: Alice Moreau
    channels:
      - {name: phone, type: sms, address: "+447700900001"}
      - {name: email, type: email, address: alice@example.com}
    engagement:
      - {channel: phone, after: 0m}
      - {channel: email, after: 5m}
  bob:
    channels:
      - {type: slack, address: U0BOB0001}
rotations:
  primary:
    participants: [alice, bob]
    start: "2026-01-05T09:00"
    shift: weekly
    workingHours:
      - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
escalationPlans:
  payments:
    stages:
      - duration: 5m
        targets:
          - {rotation: primary}
      - duration: 10
        targets:
          - {contact: bob}
responsePlans:
  - id: payments
    match: {severity: [critical], alarmName: "^payments-"}
    escalationPlan: payments
  - id: default
remediation:
  rules:
    - id: ec2-system-status
      match: {cause: ec2.system_status_impaired}
      document: AWS-RestartEC2Instance
      parameters:
        InstanceId: ["{resource.id}"]
"""


def write(tmp_path: Path, text: str, name: str = "incident-response.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    loaded, found = check_response_file(write(tmp_path, text))
    assert loaded is None
    return found


def line_of(text: str, fragment: str) -> int:
    """The last line holding `fragment` (a duplicate key is the later one)."""
    return [n for n, line in enumerate(text.splitlines(), 1) if fragment in line][-1]


def test_the_example_compiles_with_every_feature() -> None:
    loaded = load_response_file(EXAMPLE, prefix="IncidentRunbook")
    config = loaded.config
    assert config.timezone == "Europe/London"
    assert set(config.contacts) == {"alice", "bob", "chen", "dana", "erin"}
    assert [s.after_seconds for s in config.contacts["bob"].engagement] == [0, 90]
    assert config.contacts["bob"].channels[1].name == "email"  # defaulted to the type
    assert [(s.channel, s.after_seconds) for s in config.contacts["chen"].engagement] == [
        ("phone", 0),
        ("slack", 0),
    ]
    assert config.rotations["payments-primary"].timezone == "Europe/London"  # the file's
    assert config.rotations["payments-secondary"].on_call == 2
    assert len(config.rotations["db-office-hours"].working_hours) == 2
    stages = config.escalation_plans["payments"].stages
    assert [s.duration_seconds for s in stages] == [300, 600, 900]
    assert [p.id for p in config.response_plans] == ["payments-critical", "databases", "default"]
    assert config.response_plans[0].slack_responders == ("U0DAVE0004",)
    # The default pages the severity topics only, at the severity the rules decided.
    assert config.default_plan == ResponsePlan(id="default")
    (rule,) = loaded.remediation.config.rules
    assert (rule.document, rule.match.causes) == (
        "AWS-RestartEC2Instance",
        ("ec2.system_status_impaired",),
    )
    assert decode_config(encode_config(config)) == config  # what ships is what loads


def test_the_example_keeps_to_the_independent_structural_checker() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document.pop("remediation")  # the checker predates the section
    assert structural_problems(document) == []


def test_a_valid_file_and_its_defaults(tmp_path: Path) -> None:
    loaded = load_response_file(write(tmp_path, VALID.replace("timezone: Europe/London\n", "")),
                                default_timezone="America/New_York")  # fmt: skip
    config = loaded.config
    assert config.timezone == "America/New_York"
    assert config.rotations["primary"].timezone == "America/New_York"
    assert config.rotations["primary"].name == "primary"
    assert config.contacts["bob"].name == "bob"
    assert config.escalation_plans["payments"].stages[1].duration_seconds == 600
    no_plans = VALID.split("responsePlans:")[0]
    assert load_response_file(write(tmp_path, no_plans)).config.response_plans == (
        ResponsePlan(id="default"),
    )


MISTAKES = [
    # (what to replace in VALID, with what, the line holding this fragment, the problem)
    ('address: "+447700900001"', "address: +447700900001", "address: +4477",
     "contacts.alice.channels[0].address: 447700900001 is a number to YAML: quote it "
     '("+447700900001")'),
    ('address: "+447700900001"', 'address: "07700 900001"', "07700",
     "contacts.alice.channels[0].address: '07700 900001': not E.164 (+ and 7 to 15 digits)"),
    ("address: alice@example.com", "address: alice", "address: alice}",
     "contacts.alice.channels[1].address: 'alice': not an email address"),
    ("type: slack, address: U0BOB0001", "type: slack, address: bob", "address: bob",
     "contacts.bob.channels[0].address: 'bob': not a Slack user id (U... or W...)"),
    ("type: slack", "type: pager", "type: pager",
     "contacts.bob.channels[0].type: 'pager' (known: sms, email, slack)"),
    ("{channel: email, after: 5m}", "{channel: fax, after: 5m}", "channel: fax",
     "contacts.alice.engagement[1].channel: unknown channel 'fax' (known: email, phone)"),
    ("{channel: email, after: 5m}", "{channel: phone, after: 5m}", "channel: phone, after: 5m",
     "contacts.alice.engagement[1].channel: phone is engaged twice"),
    ("{channel: phone, after: 0m}", "{channel: phone, after: 10m}", "channel: email, after: 5m",
     "contacts.alice.engagement[1].after: '5m': offsets must not decrease"),
    ("{channel: email, after: 5m}", "{channel: email, after: 5 minutes}", "5 minutes",
     "contacts.alice.engagement[1].after: '5 minutes' is not a duration: whole s, m, h "
     '("90s", "1h30m") or minutes'),
    ("    name: Alice Moreau", "    nmae: Alice Moreau", "nmae",
     "contacts.alice.nmae: unknown key (known: name, channels, engagement)"),
    ("  bob:\n", "  Bob:\n", "  Bob:",
     "contacts.Bob: 'Bob' is not a contact id ([a-z0-9][a-z0-9_-]{0,62})"),
    ("participants: [alice, bob]", "participants: [alice, carol]", "participants",
     "rotations.primary.participants[1]: unknown contact 'carol' (known: alice, bob)"),
    ("participants: [alice, bob]", "participants: [alice, on]", "participants",
     "rotations.primary.participants[1]: True is not a contact id: YAML reads on/off/yes/no/"
     "true/false unquoted as true/false: quote it"),
    ('start: "2026-01-05T09:00"', "start: 2026-01-05T09:00:00Z", "start: 2026",
     'rotations.primary.start: 2026-01-05 09:00:00+00:00: give local wall-clock time, quoted: '
     '"YYYY-MM-DDTHH:MM"'),
    ('start: "2026-01-05T09:00"', 'start: "2026-02-30T09:00"', "2026-02-30",
     "rotations.primary.start: '2026-02-30T09:00' is not a date"),
    ("shift: weekly", "shift: fortnightly", "shift:",
     "rotations.primary.shift: 'fortnightly' (known: daily, weekly, <N>h, <N>d, <N>w, e.g. 12h)"),
    ("    shift: weekly\n", "    shift: weekly\n    onCall: 3\n", "onCall",
     "rotations.primary.onCall: 3 on call at once of 2 participants"),
    ("    shift: weekly\n", "    shift: weekly\n    timezone: London\n", "timezone: London",
     "rotations.primary.timezone: 'London' is not an IANA time zone (Europe/London, UTC)"),
    ('end: "18:00"', "end: 18:00", "end: 18:00",
     'rotations.primary.workingHours[0].end: 1080 is not a time of day: quote it ("18:00")'),
    ('end: "18:00"', 'end: "08:00"', "08:00",
     "rotations.primary.workingHours[0].end: 08:00 is not after 09:00 (across midnight: two "
     "windows)"),
    ("days: [mon, tue, wed, thu, fri]", "days: [mon, tue, wed, thu, fry]", "fry",
     "rotations.primary.workingHours[0].days[4]: 'fry' (known: mon, tue, wed, thu, fri, sat, sun)"),
    ("      - duration: 5m", "      - duration: 0s", "duration: 0s",
     "escalationPlans.payments.stages[0].duration: '0s': at least 1 second"),
    ("{rotation: primary}", "{rotation: secondary}", "secondary",
     "escalationPlans.payments.stages[0].targets[0].rotation: unknown rotation 'secondary' "
     "(known: primary)"),
    ("{rotation: primary}", "{rotation: primary, contact: bob}", "rotation: primary",
     "escalationPlans.payments.stages[0].targets[0]: a target is one of contact, rotation"),
    ("{contact: bob}", "{contact: carol}", "carol",
     "escalationPlans.payments.stages[1].targets[0].contact: unknown contact 'carol' "
     "(known: alice, bob)"),
    ('alarmName: "^payments-"', 'alarmName: "^(payments"', "alarmName",
     "responsePlans[0].match.alarmName: not a regular expression: missing ), unterminated "
     "subpattern at position 1"),
    ("severity: [critical]", "severity: [urgent]", "severity: [urgent]",
     "responsePlans[0].match.severity[0]: 'urgent' (known: critical, high, standard)"),
    ("escalationPlan: payments", "escalationPlan: payment", "escalationPlan: payment",
     "responsePlans[0].escalationPlan: unknown escalation plan 'payment' (known: payments)"),
    ("  - id: default\n", "  - id: default\n  - id: other\n", "id: other",
     "responsePlans[2]: a second plan without match (the default is responsePlans[1])"),
    ("  - id: default\n", "  - id: other\n    match: {severity: high}\n", "responsePlans:",
     "responsePlans: no default: add a plan without match, for every other incident"),
    ("version: 1", "version: 2", "version",
     "version: 2: this runbook reads version 1"),
    ("version: 1\n", "version: 1\noncall: {}\n", "oncall",
     "oncall: unknown key (known: version, timezone, contacts, rotations, escalationPlans, "
     "responsePlans, remediation)"),
    ("  bob:\n", "  alice:\n", "  alice:",
     "contacts.alice: given twice (YAML would keep only the last)"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "where", "problem"), MISTAKES)
def test_each_mistake_is_named_by_line_and_field(
    tmp_path: Path, old: str, new: str, where: str, problem: str
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    line = line_of(text, where)
    assert f"incident-response.yaml:{line}: {problem}" in problems_of(tmp_path, text)


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        VALID.replace("type: slack", "type: pager")
        .replace("shift: weekly", "shift: monthly")
        .replace("{contact: bob}", "{contact: carol}")
        .replace("InstanceId:", "InstanceIds:")
    )
    with pytest.raises(ResponseFileError) as caught:
        load_response_file(write(tmp_path, text))
    found = caught.value.problems
    assert [p.split(": ")[1] for p in found] == [
        "contacts.bob.channels[0].type",
        "rotations.primary.shift",
        "escalationPlans.payments.stages[1].targets[0].contact",
        "remediation.rules[0].parameters",
        "remediation.rules[0].parameters.InstanceIds",
    ]
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)
    assert str(caught.value).splitlines() == found


def test_remediation_problems_land_on_their_lines(tmp_path: Path) -> None:
    text = VALID.replace("InstanceId:", "InstanceIds:").replace(
        "cause: ec2.system_status_impaired", "cause: ec2.system_status_impaired, domain: aws-side"
    )
    text += "  documents:\n    restart-orders:\n      file: remediation/missing.yaml\n"
    found = problems_of(tmp_path, text)
    assert (
        f"incident-response.yaml:{line_of(text, 'InstanceIds')}: remediation.rules[0].parameters."
        "InstanceIds: unknown parameter of AWS-RestartEC2Instance (known: AutomationAssumeRole, "
        "InstanceId)"
    ) in found
    assert any(
        p.startswith(f"incident-response.yaml:{line_of(text, 'domain: aws-side')}: "
                     "remediation.rules[0].match.domain: Invalid enum value 'aws-side'")
        for p in found
    ), found  # fmt: skip
    assert any(
        p.startswith(f"incident-response.yaml:{line_of(text, 'missing.yaml')}: "
                     "remediation.documents.restart-orders.file: remediation/missing.yaml: ")
        for p in found
    ), found  # fmt: skip


def test_a_team_document_is_read_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "remediation").mkdir()
    (tmp_path / "remediation" / "restart.yaml").write_text(
        yaml.safe_dump(
            {
                "schemaVersion": "0.3",
                "assumeRole": "{{ AutomationAssumeRole }}",
                "parameters": {
                    "AutomationAssumeRole": {"type": "String"},
                    "Service": {"type": "String"},
                },
                "mainSteps": [
                    {"name": "go", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}
                ],
            }
        )
    )
    text = VALID + (
        "  documents:\n    restart-orders:\n      file: remediation/restart.yaml\n"
        "      description: Restart the orders service\n"
    )
    loaded = load_response_file(write(tmp_path, text), prefix="Ops")
    (document,) = loaded.remediation.team_documents
    assert document.spec.name == "Ops-restart-orders"


def test_not_yaml_empty_and_not_a_mapping(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "version: 1\ncontacts: [\n") == [
        "incident-response.yaml:3: not valid YAML: expected the node content in flow context"
    ] or problems_of(tmp_path, "version: 1\ncontacts: [\n")[0].startswith("incident-response.yaml:")
    assert problems_of(tmp_path, "") == [
        "incident-response.yaml:1: the file is empty (see docs/oncall.md for its form)"
    ]
    assert problems_of(tmp_path, "- version: 1\n") == [
        "incident-response.yaml:1: expected a mapping (version, contacts, ...), got a list"
    ]
    assert problems_of(tmp_path, "timezone: UTC\n") == [
        "incident-response.yaml:1: version: required"
    ]
    missing = tmp_path / "nowhere.yaml"
    assert check_response_file(missing)[1][0].startswith("nowhere.yaml: cannot be read: ")


# -- what the Incident Manager importer writes ----------------------------------------------
def _import(tmp_path: Path, source: Path, name: str) -> Path:
    out = tmp_path / name / "incident-response.yaml"
    assert main(["import", "incident-manager", "--from-json", str(source), "--out", str(out)]) == 0
    return out


def _variants(tmp_path: Path) -> dict[str, Path]:
    """The saved account as it is, listed in another order, and without the optional files
    (alarms, EventBridge rules) whose absence leaves matches to write by hand."""
    shuffled = tmp_path / "shuffled"
    shutil.copytree(FIXTURES, shuffled)
    for rel in ("ListContacts.json", "ListRotations.json", "ListResponsePlans.json"):
        data = json.loads((shuffled / rel).read_text())
        key = next(iter(data))
        data[key] = list(reversed(data[key]))
        (shuffled / rel).write_text(json.dumps(data))
    partial = tmp_path / "partial"
    shutil.copytree(FIXTURES, partial)
    (partial / "DescribeAlarms.json").unlink()
    shutil.rmtree(partial / "ListRuleNamesByTarget")
    return {"fixtures": FIXTURES, "shuffled": shuffled, "partial": partial}


def test_every_file_the_importer_writes_loads_without_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, source in _variants(tmp_path).items():
        path = _import(tmp_path, source, name)
        loaded, found = check_response_file(path)
        assert found == [], name
        assert loaded is not None
        config = loaded.config
        assert set(config.contacts) == {"akuam", "alejr", "night_owl"}, name
        assert config.rotations["follow-the-sun"].shift == "12h"
        assert config.rotations["payments-primary"].working_hours[0].end == "18:00"
        assert config.default_plan.id == "default"
        assert structural_problems(yaml.safe_load(path.read_text())) == []
    capsys.readouterr()
