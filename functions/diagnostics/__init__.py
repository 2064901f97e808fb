"""Diagnostics: query metrics and logs of an incident's resources; evidence to S3."""
