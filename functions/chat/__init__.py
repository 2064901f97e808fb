"""Chat integration: the incident's Slack channel."""
