"""Remediation with a person in the loop: rules that propose a known fix (an SSM Automation
runbook) for a diagnosed incident, the approval record, the run, and the before/after diff of
the findings (docs/remediation.md)."""
