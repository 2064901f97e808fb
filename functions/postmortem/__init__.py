"""Postmortem: a Markdown document from the incident record and the execution history."""
