"""moto_fixes: a SendTaskSuccess that arrives while a waitForTaskToken Lambda still runs is
seen by the heartbeat wait that starts after it (MonitorRecovery's "resumed early" path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcomeSuccess,
)

from runbook.local import moto_fixes


@pytest.fixture
def fixed() -> Iterator[None]:
    moto_fixes.install_moto_fixes()
    try:
        yield
    finally:
        moto_fixes.remove_moto_fixes()


def test_outcome_before_the_heartbeat_wait_is_seen_at_once(fixed: None) -> None:
    endpoint = CallbackEndpoint("token-1")
    endpoint.notify(CallbackOutcomeSuccess(callback_id="token-1", output="{}"))
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=30)
    assert heartbeat.clear_and_wait() is True  # returns at once instead of after 30 s
    assert endpoint.get_outcome() is not None


def test_without_an_outcome_the_heartbeat_wait_still_waits(fixed: None) -> None:
    endpoint = CallbackEndpoint("token-2")
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=0)
    assert heartbeat.clear_and_wait() is False


def test_removed_with_the_other_fixes() -> None:
    moto_fixes.install_moto_fixes()
    moto_fixes.remove_moto_fixes()
    endpoint = CallbackEndpoint("token-3")
    endpoint.notify(CallbackOutcomeSuccess(callback_id="token-3", output="{}"))
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=0)
    assert heartbeat.clear_and_wait() is False  # moto's own behaviour: the bug is back
