"""CDK infrastructure of the Incident Runbook: one stack composed of small constructs."""
