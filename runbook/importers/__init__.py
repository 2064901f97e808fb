"""Importers: read another tool's configuration and write the response declaration file
(docs/oncall.md), saying in one line each what could not be carried over.

Never deployed: they run on an operator's machine through `runbook import ...`.
"""
