"""Integration tests: handlers against moto (fixtures in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes.slack_api import fake_slack  # noqa: F401 - the shared fake Slack Web API
from tests.integration.ssm_gaps import ssm_gaps  # noqa: F401 - moto + the emulator's SSM layers


@pytest.fixture(autouse=True)
def _isolated(aws_env: None) -> None:
    """Every integration test runs with fake credentials and fresh caches."""
