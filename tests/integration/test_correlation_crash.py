"""A delivery that dies half-way (Lambda timeout, crash) never leaves a key stuck or an
incident without its workflow: a fresh claim is waited for, a stale one is taken over, and a
run nobody started is started by the next delivery once its claim went quiet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers import ingest
from incidents import alarm_tags
from incidents.claims import ClaimStore
from incidents.classification import Classification
from incidents.correlation import Correlator
from incidents.policy import IngestPolicy
from incidents.sources import parse_source_event

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def ready(incident_table, state_machine) -> str:
    alarm_tags.clear_cache()
    return state_machine


def _standard(_signal: Any) -> Classification:
    return Classification(severity="standard", rule="default")


def correlator(table: Any, later: float = 0.0, on_sleep: Callable[[], None] | None = None):
    """A Correlator whose clock runs `later` seconds ahead and whose sleeps are instant."""

    def sleep(_seconds: float) -> None:
        if on_sleep:
            on_sleep()

    return Correlator(
        table,
        IngestPolicy(),
        _standard,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=later),
        sleep=sleep,
    )


def _executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return sorted(e["name"] for e in listed)


def test_the_retry_of_an_opener_that_died_before_starting_starts_the_run(
    ready, alarm_event, incident_table, lambda_context
) -> None:
    signal = parse_source_event(alarm_event())
    died = correlator(incident_table).ingest(signal)  # wrote the incident, never started
    assert died.status == "opened" and died.start == signal.incident_id()

    retry = ingest.lambda_handler(alarm_event(), lambda_context)  # waits ~5 s for the claim

    assert retry["status"] == "started"
    assert _executions(ready) == [signal.incident_id()]


def test_a_duplicate_does_not_start_a_run_another_delivery_is_starting(
    alarm_event, incident_table
) -> None:
    signal = parse_source_event(alarm_event())
    correlator(incident_table).ingest(signal)

    duplicate = correlator(incident_table, later=1).ingest(signal)

    assert duplicate.status == "duplicate"
    assert duplicate.start is None


def test_a_stale_claim_without_an_incident_is_taken_over(alarm_event, incident_table) -> None:
    signal = parse_source_event(alarm_event())
    ClaimStore(incident_table).swap(signal.correlation_key, "inc-20191002-170000-deadbeef", None)

    later = alarm_event(timestamp="2019-10-02T17:06:00.000+0000")
    outcome = correlator(incident_table, later=30).ingest(parse_source_event(later))

    assert outcome.status == "opened"
    claim = ClaimStore(incident_table).read(signal.correlation_key)
    assert claim.current == outcome.incident_id


def test_a_fresh_claim_is_waited_for_then_joined(alarm_event, incident_table) -> None:
    opener = parse_source_event(alarm_event())
    claims = ClaimStore(incident_table)
    claims.swap(opener.correlation_key, opener.incident_id(), None)  # opener mid-way

    def opener_finishes() -> None:
        if not incident_table.get_item(Key={"incident_id": opener.incident_id()}).get("Item"):
            incident_table.put_item(Item=opener.to_incident(opener.incident_id()).to_item())

    later = parse_source_event(alarm_event(timestamp="2019-10-02T17:06:00.000+0000"))
    outcome = correlator(incident_table, on_sleep=opener_finishes).ingest(later)

    assert (outcome.status, outcome.incident_id) == ("correlated", opener.incident_id())
