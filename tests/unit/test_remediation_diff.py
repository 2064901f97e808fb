"""The before/after diff of the findings (functions/remediation/observed.py and diff.py), fed
with what the diagnostics step really writes: findings run through diagnostics.verdict.decide
and diagnostics.evidence.summarise, and the evidence document collect_diagnostics stores."""

from __future__ import annotations

from typing import Any

from diagnostics.evidence import summarise
from diagnostics.finding import AWS, INFRASTRUCTURE, OK, THROTTLED, Cause, Finding
from diagnostics.verdict import decide
from remediation.diff import diff
from remediation.observed import observe

WINDOW = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}
AFTER_WINDOW = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:20:00Z"}


def _system(*instances: str) -> Cause:
    return Cause(
        "ec2.system_status_impaired",
        AWS,
        "System status check failed: a problem with the AWS host",
        resources=list(instances),
    )


def _cpu(*instances: str) -> Cause:
    return Cause(
        "ec2.cpu_exhausted", INFRASTRUCTURE, "CPU at or above 95 %", resources=list(instances)
    )


def _ec2(*causes: Cause, status: str = OK) -> Finding:
    return Finding("ec2", "i-1, i-2", status, "status checks", {}, {}, list(causes))


def _logs(*causes: Cause, status: str = OK) -> Finding:
    return Finding("logs_insights", "errors: /aws/web", status, "", {}, {}, list(causes))


def _result(findings: list[Finding], window: dict[str, str] = WINDOW) -> dict[str, Any]:
    """The step's result exactly as handlers/collect_diagnostics.py returns it."""
    verdict = decide(findings)
    return {
        "status": "completed",
        "summary": summarise(findings, window, verdict, None),
        "evidence_uri": "s3://bucket/incidents/inc-1/diagnostics.json",
    }


def _evidence(findings: list[Finding], window: dict[str, str] = WINDOW) -> dict[str, Any]:
    """The S3 evidence document as handlers/collect_diagnostics.py writes it."""
    return {
        "incident_id": "inc-1",
        "collected_at": window["end"],
        "window": window,
        "verdict": decide(findings),
        "support_case": None,
        "findings": [f.to_dict() for f in findings],
    }


def _changes(found: Any) -> list[tuple[str, str, str | None]]:
    return [(c.change, c.code, c.resource) for c in found.causes]


BEFORE = [_ec2(_system("i-1", "i-2")), _logs(Cause("application.exception", "application", "Boom"))]
AFTER = [_ec2(_system("i-2"), _cpu("i-1")), _logs()]


def test_from_the_evidence_documents_every_cause_is_compared_by_code_and_resource() -> None:
    found = diff(observe(None, _evidence(BEFORE)), observe(None, _evidence(AFTER, AFTER_WINDOW)))
    assert _changes(found) == [
        ("gone", "application.exception", ""),
        ("gone", "ec2.system_status_impaired", "i-1"),
        ("stayed", "ec2.system_status_impaired", "i-2"),
        ("new", "ec2.cpu_exhausted", "i-1"),
    ]
    assert found.before.domain == "aws" and found.after.domain == "aws"
    assert found.before.collected_at == "2026-03-02T10:00:00Z"
    assert found.after.collected_at == "2026-03-02T10:20:00Z"
    assert not found.improved  # something new appeared
    assert found.sources == []


def test_a_cause_whose_source_could_not_look_again_is_not_gone() -> None:
    after = [_ec2(status=THROTTLED), _logs()]
    found = diff(observe(None, _evidence(BEFORE)), observe(None, _evidence(after)))
    assert _changes(found) == [
        ("gone", "application.exception", ""),
        ("unchecked", "ec2.system_status_impaired", "i-1"),
        ("unchecked", "ec2.system_status_impaired", "i-2"),
    ]
    assert {c.why for c in found.of("unchecked")} == {"ec2 answered throttled"}
    (source,) = found.sources
    assert (source.source, source.before, source.after) == ("ec2", "ok", "throttled")


def test_a_source_that_did_not_run_again_is_said() -> None:
    found = diff(observe(None, _evidence(BEFORE)), observe(None, _evidence([_logs()])))
    assert {c.why for c in found.of("unchecked")} == {"ec2 did not run again"}
    assert [(s.source, s.before, s.after) for s in found.sources] == [("ec2", "ok", "")]


def test_everything_gone_is_an_improvement() -> None:
    found = diff(observe(None, _evidence(BEFORE)), observe(None, _evidence([_ec2(), _logs()])))
    assert [c.change for c in found.causes] == ["gone", "gone", "gone"]
    assert found.improved
    assert found.after.domain == "undetermined"


def test_from_the_summaries_the_other_rungs_codes_are_compared_without_resources() -> None:
    # The summary keeps the verdict's causes with resources; other rungs only by code.
    before, after = observe(_result(BEFORE)), observe(_result(AFTER, AFTER_WINDOW))
    assert not before.complete
    found = diff(before, after)
    assert _changes(found) == [
        ("gone", "application.exception", None),
        ("gone", "ec2.system_status_impaired", "i-1"),
        ("stayed", "ec2.system_status_impaired", "i-2"),
        ("new", "ec2.cpu_exhausted", None),
    ]
    assert found.after.collected_at == "2026-03-02T10:20:00Z"


def test_a_summary_cause_is_unchecked_when_any_source_failed_after() -> None:
    after = [_ec2(status=THROTTLED), _logs()]
    found = diff(observe(_result(BEFORE)), observe(_result(after)))
    unchecked = found.of("unchecked")
    # The summary does not say which source saw a cause: with any source failing after, no
    # absent cause can be called gone, the application error included.
    assert [(c.code, c.resource) for c in unchecked] == [
        ("application.exception", None),
        ("ec2.system_status_impaired", "i-1"),
        ("ec2.system_status_impaired", "i-2"),
    ]
    assert {c.why for c in unchecked} == {"ec2 could not be read"}


def test_a_code_seen_again_on_another_rung_stayed() -> None:
    # After: the AWS rung is gone but the application error is the verdict now, and the
    # system check shows up again only among the other rungs' codes (no resources there).
    before = [_ec2(_system("i-1"))]
    after = [
        _ec2(Cause("ec2.system_status_impaired", "application", "moved rung", resources=["i-1"])),
        _logs(Cause("application.exception", "application", "Boom")),
    ]
    found = diff(observe(_result(before)), observe(_result(after)))
    stayed = found.of("stayed")
    assert [(c.code, c.resource) for c in stayed] == [("ec2.system_status_impaired", "i-1")]
    assert [(c.code, c.change) for c in found.of("new")] == [("application.exception", "new")]


def test_causes_whose_required_symptom_nobody_saw_do_not_count() -> None:
    route = Cause(
        "network.no_internet_route",
        INFRASTRUCTURE,
        "no route out",
        resources=["subnet-1"],
        requires=["network.connect_timeout"],
    )
    network = Finding("network", "paths", OK, "", {}, {}, [route])
    observed = observe(None, _evidence([network]))
    assert observed.codes == frozenset()
    timeout = Cause("network.connect_timeout", INFRASTRUCTURE, "timeout", resources=["fn"])
    with_symptom = observe(None, _evidence([network, _logs(timeout)]))
    assert with_symptom.codes == {"network.no_internet_route", "network.connect_timeout"}


def test_absent_or_failed_diagnostics_observe_nothing() -> None:
    nothing = observe(None)
    assert nothing.domain == "undetermined" and nothing.causes == ()
    failed = observe({"status": "failed", "error": "States.Timeout", "cause": "..."})
    assert failed.causes == ()
    found = diff(observe(None, _evidence(BEFORE)), nothing)
    # Nothing ran after: every cause is unchecked, none gone.
    assert {c.change for c in found.causes} == {"unchecked"}
