"""IncidentRepository's conditional writes on moto's DynamoDB, and the session factory's
per-(account, region) clients with an assumed role for member accounts."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from incidents.model import Incident, RecoverySignal
from incidents.repository import IncidentRepository
from shared import aws
from shared.errors import IncidentNotFound


def _incident(incident_id: str, opened_at: str, status: str = "OPEN", **extra) -> Incident:
    return Incident(
        incident_id=incident_id,
        title=f"incident {incident_id}",
        opened_at=opened_at,
        status=status,
        alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
        **extra,
    )


def test_create_if_absent_never_overwrites(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    first, created = repo.create_if_absent(_incident("inc-1", "2024-05-01T10:00:00Z"))
    assert created is True
    again, created = repo.create_if_absent(
        replace(_incident("inc-1", "2024-05-01T10:00:00Z"), title="other")
    )
    assert created is False
    assert again.title == first.title


def test_token_protocol_conditions(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    repo.create_if_absent(_incident("inc-1", "2024-05-01T10:00:00Z"))
    signal = RecoverySignal(at="2024-05-01T10:05:00Z", by="alarm:a", status="recovered")

    assert repo.store_token("inc-1", "t1") is True
    assert repo.record_recovery_signal("inc-1", signal) is False  # a token is waiting
    assert repo.take_token("inc-1", "not-t1", signal) is False  # someone else's token
    assert repo.take_token("inc-1", "t1", signal) is True
    assert repo.take_token("inc-1", "t1", signal) is False  # a token is used once
    taken = repo.get("inc-1")
    assert taken.recovering == signal and taken.resolved_by is None  # confirmed later
    assert taken.is_open
    assert repo.confirm_recovery("inc-1", signal, "stayed OK") is True
    assert repo.confirm_recovery("inc-1", signal, "stayed OK") is False  # once
    confirmed = repo.get("inc-1")
    assert confirmed.resolved_by == "alarm:a" and confirmed.recovering is None
    assert not confirmed.is_open


def test_a_flap_forgets_the_recovery_so_the_workflow_can_wait_again(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    repo.create_if_absent(_incident("inc-1", "2024-05-01T10:00:00Z"))
    signal = RecoverySignal(at="2024-05-01T10:05:00Z", by="alarm:a", status="recovered")
    assert repo.record_recovery_signal("inc-1", signal) is True  # OK before the token
    assert repo.get("inc-1").is_open  # still open: being confirmed
    assert repo.record_flap("inc-1", "fired again") is True
    flapped = repo.get("inc-1")
    assert flapped.recovery_signal is None and flapped.recovering is None
    assert flapped.flap_count == 1
    assert repo.store_token("inc-1", "t2") is True


def test_signal_first_blocks_the_token(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    repo.create_if_absent(_incident("inc-1", "2024-05-01T10:00:00Z"))
    signal = RecoverySignal(at="2024-05-01T10:05:00Z", by="operator:a")
    assert repo.record_recovery_signal("inc-1", signal) is True
    assert repo.record_recovery_signal("inc-1", signal) is False
    assert repo.store_token("inc-1", "t1") is False
    assert repo.get("inc-1").recovery_signal == signal


def test_update_of_a_missing_incident_raises(incident_table) -> None:
    with pytest.raises(IncidentNotFound):
        IncidentRepository(incident_table).update("inc-missing", {"status": "RESOLVED"})


def test_find_open_by_alarm_takes_the_newest_open(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    repo.create_if_absent(_incident("inc-old", "2024-05-01T09:00:00Z", "MONITORING"))
    repo.create_if_absent(_incident("inc-closed", "2024-05-01T11:00:00Z", "RESOLVED"))
    repo.create_if_absent(_incident("inc-new", "2024-05-01T10:00:00Z"))
    found = repo.find_open_by_alarm("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a")
    assert found is not None and found.incident_id == "inc-new"
    assert repo.find_open_by_alarm("arn:aws:cloudwatch:us-east-1:123456789012:alarm:b") is None


def test_list_newest_first_without_error_items(incident_table) -> None:
    repo = IncidentRepository(incident_table)
    repo.create_if_absent(_incident("inc-a", "2024-05-01T09:00:00Z"))
    repo.create_if_absent(_incident("inc-b", "2024-05-02T09:00:00Z", "RESOLVED"))
    repo.record_invalid_event({"bad": True}, "no")
    assert [i.incident_id for i in repo.list()] == ["inc-b", "inc-a"]
    assert [i.incident_id for i in repo.list(status="RESOLVED")] == ["inc-b"]


def test_clients_are_cached_per_account_and_region(moto) -> None:
    assert aws.client("s3") is aws.client("s3")
    assert aws.client("s3", region="eu-west-1") is not aws.client("s3")
    assert aws.client("s3", region="eu-west-1").meta.region_name == "eu-west-1"


def test_member_account_clients_use_the_assumed_role(moto, monkeypatch) -> None:
    monkeypatch.setenv("DIAGNOSTICS_ROLE_NAME", "IncidentRunbookReadOnly")
    home = aws.client("sts").get_caller_identity()
    member = aws.client("sts", account="210987654321").get_caller_identity()
    assert home["Account"] == "123456789012"
    assert member["Account"] == "210987654321"
    assert "assumed-role/IncidentRunbookReadOnly/incident-runbook" in member["Arn"]
    # The home account never assumes a role, even when named explicitly.
    assert aws.client("sts", account="123456789012").get_caller_identity()["Arn"] == home["Arn"]
