"""`runbook import incident-manager`: a live account (SSM Contacts and SSM Incidents through
botocore Stubbers with documented response shapes, every list across pages; CloudWatch and
EventBridge in moto), saved responses (--from-json), the round trip through --save-json, and the
CLI's exit codes and one-line errors."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from runbook.cli import main
from runbook.importers import command
from runbook.importers.incident_manager import (
    DirectorySource,
    ImportFailure,
    LiveSource,
    RecordingSource,
    read_account,
)
from runbook.importers.mapping import map_account
from tests.integration.im_stubs import (
    FIXTURES,
    REGION,
    live,
    queue_account,
    saved,
    seed_triggers,
    stubbed_im,
)
from tests.oncall_declaration import problems

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "_now", lambda: NOW)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["import", "incident-manager", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _from_fixtures() -> Any:
    return map_account(read_account(DirectorySource(FIXTURES), now=NOW, overrides_days=90), now=NOW)


def test_the_fixture_account_maps_as_documented() -> None:
    imported = _from_fixtures()
    doc = imported.document
    assert problems(yaml.safe_load(yaml.safe_dump(doc))) == []
    assert sorted(doc["contacts"]) == ["akuam", "alejr", "night_owl"]  # anasi: VOICE only
    assert doc["contacts"]["akuam"]["engagement"] == [
        {"channel": "akuas-sms", "after": "0m"},
        {"channel": "akuas-email", "after": "10m"},  # after the VOICE stage's 5 minutes
    ]
    assert doc["rotations"]["payments-primary"] == {
        "name": "Payments Primary",
        "timezone": "Europe/London",
        "participants": ["akuam", "alejr"],
        "start": "2026-01-05T09:00",
        "shift": "weekly",
        "workingHours": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
        ],
    }
    assert doc["rotations"]["follow-the-sun"]["shift"] == "12h"
    assert "monthly-dba" not in doc["rotations"]
    assert [p["id"] for p in doc["responsePlans"]] == [
        "db-on-call",
        "payments-critical",
        "batch_jobs",
        "default",
    ]
    critical = doc["responsePlans"][1]
    assert critical == {
        "id": "payments-critical",
        "match": {"alarmName": r"^(payments-5xx|payments-latency \(p99\))$"},
        "escalationPlan": "example_escalation",
        "severity": "critical",
    }
    assert doc["responsePlans"][0]["match"] == {"alarmName": "^(orders-db-cpu$|db-)"}
    assert [(o["rotation"], o["contact"], o["start"]) for o in imported.overrides] == [
        ("payments-primary", "alejr", "2026-03-10T09:00:00Z"),
        ("payments-primary", "akuam", "2026-03-19T09:00:00Z"),
    ]  # the one that ended on 27 February is gone


def test_a_live_account_read_through_every_paginator_gives_the_same_file(moto: None) -> None:
    cloudwatch, events = seed_triggers()
    with stubbed_im() as (stubs, contacts, incidents):
        queue_account(stubs, NOW)
        account = read_account(
            live(contacts, incidents, cloudwatch, events), now=NOW, overrides_days=90
        )
        stubs.done()
    imported = map_account(account, now=NOW)
    expected = _from_fixtures()
    assert imported.document == expected.document
    assert imported.overrides == expected.overrides
    assert [n.line() for n in imported.notes.sorted()] == [
        n.line() for n in expected.notes.sorted()
    ]
    assert account.where == f"region {REGION}"


def test_save_json_writes_the_layout_from_json_reads(moto: None, tmp_path: Path) -> None:
    cloudwatch, events = seed_triggers()
    dump = tmp_path / "dump"
    with stubbed_im() as (stubs, contacts, incidents):
        queue_account(stubs, NOW)
        recording = RecordingSource(live(contacts, incidents, cloudwatch, events), dump)
        first = map_account(read_account(recording, now=NOW, overrides_days=90), now=NOW)
        stubs.done()
    im_files = sorted(
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*.json")
        if not p.name.startswith(("DescribeAlarms", "db-alarms"))
        and "ListRuleNamesByTarget" not in str(p)
    )
    for rel in im_files:  # what AWS returned is what was saved, timestamps as the CLI prints
        assert saved(rel, dump) == saved(rel), rel
    assert (dump / "DescribeAlarms.json").is_file()
    again = map_account(read_account(DirectorySource(dump), now=NOW, overrides_days=90), now=NOW)
    assert again.document == first.document
    assert again.overrides == first.overrides


def test_describe_alarms_is_paginated_and_includes_composite_alarms() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    plan = "arn:aws:ssm-incidents::111122223333:responseplan/payments-critical"
    expected = {
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        "ActionPrefix": "arn:aws:ssm-incidents::",
    }
    with stubbed_im() as (stubs, contacts, incidents), Stubber(cloudwatch) as cw:
        queue_account(stubs, NOW)
        cw.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [{"AlarmName": "payments-5xx", "AlarmActions": [plan]}],
                "NextToken": "n2",
            },
            expected,
        )
        cw.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [{"AlarmName": "payments-latency", "AlarmActions": [plan]}],
                "CompositeAlarms": [{"AlarmName": "payments-down", "AlarmActions": [plan]}],
            },
            {**expected, "NextToken": "n2"},
        )
        account = read_account(live(contacts, incidents, cloudwatch), now=NOW, overrides_days=90)
        cw.assert_no_pending_responses()
    doc = map_account(account, now=NOW).document
    critical = next(p for p in doc["responsePlans"] if p["id"] == "payments-critical")
    assert critical["match"] == {"alarmName": "^(payments-5xx|payments-down|payments-latency)$"}
    assert account.rules is None and account.rules_unavailable == "events was not read"


def test_no_permission_for_alarms_is_a_note_not_a_failure() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    with stubbed_im() as (stubs, contacts, incidents), Stubber(cloudwatch) as cw:
        queue_account(stubs, NOW)
        cw.add_client_error(
            "describe_alarms",
            "AccessDenied",
            "User: arn:aws:iam::111122223333:user/importer is not authorized to perform: "
            "cloudwatch:DescribeAlarms",
            403,
        )
        account = read_account(live(contacts, incidents, cloudwatch), now=NOW, overrides_days=90)
    imported = map_account(account, now=NOW)
    lines = [n.line() for n in imported.notes.sorted()]
    assert any(
        "response plan payments-critical: CloudWatch alarms could not be read (no permission "
        "to call cloudwatch:DescribeAlarms" in line
        for line in lines
    ), lines
    assert all(
        p["match"] == {"alarmName": "^$"}
        for p in imported.document["responsePlans"]
        if "match" in p
    )


# -- the command ---------------------------------------------------------------------------
def test_from_json_writes_a_valid_commented_file_and_the_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repo" / "incident-response.yaml"
    code, stdout, stderr = run(capsys, "--from-json", str(FIXTURES), "--out", str(out))
    assert (code, stderr) == (0, "")
    text = out.read_text()
    header = text.split("\nversion: 1\n")[0].splitlines()
    assert all(line.startswith("#") for line in header)
    assert "by `runbook import incident-manager` at 2026-03-01T12:00:00Z" in text
    assert f"from account 111122223333, saved responses in {FIXTURES}." in text
    assert "#   not carried over: contact akuam: VOICE channel 'akuas voice'" in text
    document = yaml.safe_load(text)
    assert problems(document) == []
    sidecar = json.loads((tmp_path / "repo" / "incident-response.overrides.json").read_text())
    assert sidecar["importedAt"] == "2026-03-01T12:00:00Z"
    assert [o["incidentManagerId"] for o in sidecar["overrides"]] == [
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
    ]
    assert stdout.startswith(f"Wrote {out}: 3 contacts, 2 rotations, 2 escalation plans")
    notes = [line for line in stdout.splitlines() if line.startswith("  ")]
    assert len(notes) == int(stdout.split(" notes (also at the top")[0].rsplit("\n", 1)[1])
    # The same notes, one line each, at the top of the file.
    assert [f"#   {n.strip()}" for n in notes] == [
        line for line in header if line.startswith("#   ")
    ]


def test_the_output_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert run(capsys, "--from-json", str(FIXTURES), "--out", str(a))[0] == 0
    shuffled = tmp_path / "shuffled"
    shutil.copytree(FIXTURES, shuffled)
    for rel in ("ListContacts.json", "ListRotations.json", "ListResponsePlans.json"):
        data = saved(rel, shuffled)
        key = next(iter(data))
        data[key] = list(reversed(data[key]))
        (shuffled / rel).write_text(json.dumps(data))
    assert run(capsys, "--from-json", str(shuffled), "--out", str(b))[0] == 0
    body = [line for line in a.read_text().splitlines() if "saved responses in" not in line]
    assert body == [line for line in b.read_text().splitlines() if "saved responses in" not in line]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.yaml"
    code, stdout, _ = run(capsys, "--from-json", str(FIXTURES), "--out", str(out), "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["counts"] == {
        "contacts": 3,
        "rotations": 2,
        "escalationPlans": 2,
        "responsePlans": 4,
        "overrides": 2,
    }
    assert result["overridesFile"] == str(tmp_path / "x.overrides.json")
    assert {n["kind"] for n in result["notes"]} == {
        "not carried over",
        "approximated",
        "review",
        "renamed",
    }


def test_an_existing_file_is_not_overwritten_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "incident-response.yaml"
    out.write_text("mine\n")
    code, stdout, stderr = run(capsys, "--from-json", str(FIXTURES), "--out", str(out))
    assert (code, stdout) == (1, "")
    assert stderr == f"runbook: {out} exists: choose another --out/--overrides-out, or --force\n"
    assert out.read_text() == "mine\n"
    assert run(capsys, "--from-json", str(FIXTURES), "--out", str(out), "--force")[0] == 0
    assert out.read_text().startswith("# Response declaration")


@pytest.mark.parametrize(
    ("rel", "content", "says"),
    [
        ("GetContact/akuam.json", '{"Alias": "akuam", ', "not a saved API response"),
        (
            "GetContact/akuam.json",
            json.dumps(
                {
                    "Alias": "akuam",
                    "ContactArn": "arn:aws:ssm-contacts:us-east-2:111122223333:contact/akuam",
                    "Type": "PERSONAL",
                    "Plan": {"Stages": [{"DurationInMinutes": "5", "Targets": []}]},
                }
            ),
            "not a GetContact response: Plan.Stages[0].DurationInMinutes: expected an integer",
        ),
        ("ListRotations.json", json.dumps({"Items": []}), "Rotations: missing"),
        (
            "GetRotation/1b6a0a3e-8f8e-4f4e-9f2b-2a1c3d4e5f60.json",
            json.dumps(
                saved("GetRotation/1b6a0a3e-8f8e-4f4e-9f2b-2a1c3d4e5f60.json")
                | {"StartTime": "soon"}
            ),
            "StartTime: expected a timestamp, got 'soon'",
        ),
        ("ListResponsePlans.json", "[]", "the response: expected an object, got a list"),
    ],
)
def test_a_malformed_saved_file_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rel: str, content: str, says: str
) -> None:
    dump = tmp_path / "dump"
    shutil.copytree(FIXTURES, dump)
    (dump / rel).write_text(content)
    out = tmp_path / "out.yaml"
    code, stdout, stderr = run(capsys, "--from-json", str(dump), "--out", str(out))
    assert (code, stdout) == (1, "")
    assert stderr.startswith(f"runbook: {dump / rel}: ")
    assert says in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_missing_saved_file_says_how_to_save_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "dump"
    shutil.copytree(FIXTURES, dump)
    (dump / "ListContactChannels" / "alejr.json").unlink()
    code, _, stderr = run(capsys, "--from-json", str(dump), "--out", str(tmp_path / "o.yaml"))
    assert code == 1
    assert stderr == (
        f"runbook: {dump / 'ListContactChannels' / 'alejr.json'} is missing: save it with "
        "`aws ssm-contacts list-contact-channels --contact-id CONTACT_ARN --output json`\n"
    )


def test_missing_optional_files_leave_matches_to_write_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "dump"
    shutil.copytree(FIXTURES, dump)
    (dump / "DescribeAlarms.json").unlink()
    shutil.rmtree(dump / "ListRuleNamesByTarget")
    out = tmp_path / "o.yaml"
    code, stdout, _ = run(capsys, "--from-json", str(dump), "--out", str(out))
    assert code == 0
    assert "CloudWatch alarms could not be read (DescribeAlarms.json was not saved)" in stdout
    assert (
        "review: EventBridge rules: could not be read (ListRuleNamesByTarget/Batch_Jobs.json "
        "was not saved)" in stdout
    )
    plans = yaml.safe_load(out.read_text())["responsePlans"]
    assert [p.get("match") for p in plans] == [{"alarmName": "^$"}] * 3 + [None]


def _patch_live(monkeypatch: pytest.MonkeyPatch, source: LiveSource) -> None:
    monkeypatch.setattr(command, "live_source", lambda session: source)


def test_no_permission_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_im() as (stubs, contacts, incidents):
        stubs.contacts.add_client_error(
            "list_contacts",
            "AccessDeniedException",
            "User: arn:aws:iam::111122223333:user/importer is not authorized to perform: "
            "ssm-contacts:ListContacts",
            400,
        )
        _patch_live(monkeypatch, live(contacts, incidents))
        code, stdout, stderr = run(capsys, "--region", REGION, "--out", str(tmp_path / "o.yaml"))
    assert (code, stdout) == (1, "")
    assert stderr.startswith(
        "runbook: no permission to call ssm-contacts:ListContacts (AccessDeniedException: User: "
    )
    assert "docs/migrate-from-incident-manager.md" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_region_without_incident_manager_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = boto3.client("ssm-contacts", region_name="ap-east-2")
    incidents = boto3.client("ssm-incidents", region_name="ap-east-2")

    def unreachable(**kwargs: Any) -> None:  # what botocore raises when DNS has no endpoint
        raise EndpointConnectionError(endpoint_url="https://ssm-contacts.ap-east-2.amazonaws.com/")

    contacts.meta.events.register("before-send.ssm-contacts.ListContacts", unreachable)
    _patch_live(monkeypatch, live(contacts, incidents))
    code, _, stderr = run(capsys, "--region", "ap-east-2", "--out", str(tmp_path / "o.yaml"))
    assert code == 1
    assert stderr == (
        "runbook: cannot reach ssm-contacts in region ap-east-2: Incident Manager is not "
        "available there; pass --region with the region of your replication set\n"
    )


def test_a_region_with_nothing_in_it_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_im() as (stubs, contacts, incidents):
        stubs.contacts.add_response("list_contacts", {"Contacts": []}, {})
        stubs.contacts.add_response("list_rotations", {"Rotations": []}, {})
        stubs.incidents.add_response("list_response_plans", {"responsePlanSummaries": []}, {})
        _patch_live(monkeypatch, live(contacts, incidents))
        code, _, stderr = run(capsys, "--region", REGION, "--out", str(tmp_path / "o.yaml"))
        stubs.done()
    assert code == 1
    assert stderr == (
        f"runbook: no Incident Manager contacts, rotations or response plans in region {REGION}: "
        "is this the region of your replication set? (--region)\n"
    )
    assert not (tmp_path / "o.yaml").exists()


def test_save_json_through_the_command_then_from_json_gives_the_same_file(
    moto: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudwatch, events = seed_triggers()
    dump, first, second = tmp_path / "dump", tmp_path / "a.yaml", tmp_path / "b.yaml"
    with stubbed_im() as (stubs, contacts, incidents):
        queue_account(stubs, NOW)
        _patch_live(monkeypatch, live(contacts, incidents, cloudwatch, events))
        code, _, stderr = run(capsys, "--save-json", str(dump), "--out", str(first))
        stubs.done()
    assert (code, stderr) == (0, "")
    assert run(capsys, "--from-json", str(dump), "--out", str(second))[0] == 0
    assert yaml.safe_load(first.read_text()) == yaml.safe_load(second.read_text())
    # A second save into the same directory is refused: it would mix two accounts' answers.
    code, _, stderr = run(capsys, "--save-json", str(dump), "--out", str(tmp_path / "c.yaml"))
    assert code == 1 and "is not an empty directory" in stderr


def test_from_json_and_save_json_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "--from-json", "a", "--save-json", "b")
    assert exit_.value.code == 2


def test_an_unknown_profile_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run(capsys, "--profile", "no-such-profile", "--out", str(tmp_path / "o.yaml"))
    assert code == 1
    assert stderr.startswith("runbook: cannot open the AWS session: The config profile")


def test_from_json_of_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure, match="not a directory"):
        DirectorySource(tmp_path / "nothing-here")


def test_the_guide_documents_every_saved_file_and_how_to_save_it() -> None:
    from runbook import REPO_ROOT
    from runbook.importers.incident_manager import OPERATIONS, cli_command

    guide = (REPO_ROOT / "docs" / "migrate-from-incident-manager.md").read_text()
    for operation, op in OPERATIONS.items():
        layout = f"DIR/{operation}.json" if op.key_param is None else f"DIR/{operation}/"
        assert layout in guide, operation
        assert cli_command(operation).split(" --")[0] in guide, operation
