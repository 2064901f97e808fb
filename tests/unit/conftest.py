"""Unit tests: pure logic, fake credentials so an accidental AWS call can never reach AWS."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(aws_env: None) -> None:
    """Every unit test runs with fake credentials and fresh caches."""
