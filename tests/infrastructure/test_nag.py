"""cdk-nag (AwsSolutions): no unacknowledged finding, every acknowledgement reasoned, none stale."""

from __future__ import annotations

from .conftest import Synth


def test_synth_passed_validation_with_no_violations(synth: Synth) -> None:
    # The session fixture's app.synth() would have raised on a violation; the report agrees.
    for plugin in synth.report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin.get("conclusion", "success") == "success"


def test_no_warning_or_error_annotations(synth: Synth) -> None:
    annotations = [
        (path, entry["type"], entry["data"])
        for path, entries in synth.metadata.items()
        for entry in entries
        if entry["type"] in {"aws:cdk:warning", "aws:cdk:error"}
    ]
    assert annotations == []


def test_every_acknowledgement_has_a_written_reason(synth: Synth) -> None:
    acknowledgements = synth.acknowledgements()
    assert acknowledgements, "expected the reasoned acknowledgements to be recorded"
    for path, rule, reason in acknowledgements:
        assert rule.startswith("AwsSolutions-"), (path, rule)
        assert len(reason.split()) >= 8, (path, rule, reason)


def test_nag_really_checks_this_stack(raw_findings: set[tuple[str, str]]) -> None:
    # Without acknowledgements the same stack fails; so a clean report is not an empty check.
    rules = {rule for rule, _ in raw_findings}
    assert "AwsSolutions-IAM5[Resource::*]" in rules
    assert "AwsSolutions-L1" in rules


def test_every_finding_is_acknowledged_and_no_acknowledgement_is_stale(
    synth: Synth, raw_findings: set[tuple[str, str]]
) -> None:
    acknowledged = [(path.lstrip("/"), rule) for path, rule, _ in synth.acknowledgements()]

    def covers(ack_path: str, finding_path: str) -> bool:
        return finding_path == ack_path or finding_path.startswith(ack_path + "/")

    unacknowledged = sorted(
        (rule, path)
        for rule, path in raw_findings
        if not any(r == rule and covers(p, path) for p, r in acknowledged)
    )
    stale = sorted(
        (rule, path)
        for path, rule in acknowledged
        if not any(r == rule and covers(path, p) for r, p in raw_findings)
    )
    assert unacknowledged == []
    assert stale == []
