"""Integration tests: handlers against moto (fixtures in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(aws_env: None) -> None:
    """Every integration test runs with fake credentials and fresh caches."""
