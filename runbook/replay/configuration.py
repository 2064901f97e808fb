"""The configuration a replay runs: the team's settings, and the emulator's version of them.

The settings are cdk.json's `incident-runbook` context (the current configuration), overlaid
with `--context FILE` and then `--set key=value`, and validated as `cdk deploy` would validate
them (stacks/settings.py: an unknown key or a bad value is an error naming the key).

What the emulator then deploys differs in what a replay must change, and nothing else:
- the waits the state machine takes in real time are divided by the speed (a one-hour recovery
  wait at 120x lasts 30 s), rounded to whole seconds, at least one; the heartbeat is set past
  the wait (the recovery watch's liveness is not part of a history) and the recovery watch
  runs once a history minute (at most every two seconds);
- every topic gets one recording subscriber (`replay-<topic>@replay.invalid`), whose
  deliveries are the pages counted; the team's own subscribers, Slack and member-account
  roles are left out, so a replay never reaches a person, a web hook or another account.
Correlation, reopen and fold settings, severities and escalation counts are used as they are:
they compare times on the replay's clock, which follows the history (clock.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec

from runbook import REPO_ROOT
from runbook.replay import ReplayError
from stacks.settings import CONTEXT_KEY, TOPICS, Settings

DEFAULT_SPEED = 120.0
MAX_SPEED = 3600.0
MIN_TICK_SECONDS = 2.0
# Keys a replay sets itself (configuration.py's docstring says why).
REPLAY_KEYS = (
    "recoveryTimeoutSeconds",
    "heartbeatSeconds",
    "stabilisationSeconds",
    "subscriptions",
    "slackSecretName",
    "slackResponders",
    "diagnosticsRoleName",
    "local",
)


def recording_endpoint(topic: str) -> str:
    return f"replay-{topic}@replay.invalid"


class Timing(msgspec.Struct, kw_only=True, frozen=True):
    """The waits as the emulator runs them (wall seconds) at `speed` history seconds per
    wall second."""

    speed: float
    recovery_timeout: int
    stabilisation: int
    heartbeat: int
    tick: float

    def history_seconds(self, wall_seconds: float) -> float:
        return wall_seconds * self.speed


class Plan(msgspec.Struct, kw_only=True, frozen=True):
    settings: dict[str, Any]  # the team's settings, validated, camelCase (what AWS would run)
    overrides: dict[str, Any]  # what the emulator synthesises with
    timing: Timing


def repo_settings(cdk_json: Path = REPO_ROOT / "cdk.json") -> dict[str, Any]:
    """cdk.json's `incident-runbook` context: the configuration that would be deployed."""
    try:
        loaded = json.loads(cdk_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReplayError(f"cannot read {cdk_json}: {exc}") from None
    settings = loaded.get("context", {}).get(CONTEXT_KEY, {}) if isinstance(loaded, dict) else {}
    if not isinstance(settings, dict):
        raise ReplayError(f"{cdk_json}: context.{CONTEXT_KEY} must be a JSON object")
    return settings


def read_context_file(path: Path) -> dict[str, Any]:
    """Settings to try: a cdk.json (`context.incident-runbook`), a context object
    (`{"incident-runbook": {...}}`) or the settings object itself."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"--context {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ReplayError(f"--context {path}: not JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise ReplayError(f"--context {path}: expected a JSON object")
    if isinstance(loaded.get("context"), dict):
        loaded = loaded["context"]
    found = loaded.get(CONTEXT_KEY, loaded)
    if not isinstance(found, dict):
        raise ReplayError(f"--context {path}: {CONTEXT_KEY} must be a JSON object")
    return found


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that reads as JSON is that JSON (`5`, `true`, `[...]`),
    anything else is a string."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ReplayError(f"--set: expected KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        parsed[key.strip()] = value
    return parsed


def _scaled(seconds: int, speed: float, *, zero_stays: bool = False) -> int:
    if zero_stays and seconds == 0:
        return 0
    return max(1, math.floor(seconds / speed + 0.5))


def plan(
    base: dict[str, Any],
    *,
    context: dict[str, Any] | None = None,
    sets: dict[str, Any] | None = None,
    speed: float = DEFAULT_SPEED,
) -> Plan:
    """Validate the settings to replay and derive the emulator's; ReplayError names the key."""
    if not 1 <= speed <= MAX_SPEED:
        raise ReplayError(f"--speed must be between 1 and {MAX_SPEED:g}, got {speed:g}")
    camel = dict(zip(Settings.__struct_fields__, Settings.__struct_encode_fields__, strict=True))
    given = {
        camel.get(key, key): value for key, value in {**(context or {}), **(sets or {})}.items()
    }
    try:
        settings = Settings.from_context({**base, **given})
    except (ValueError, TypeError) as exc:
        raise ReplayError(f"settings to replay: {exc}") from None
    team = settings.to_context()
    recovery = _scaled(settings.recovery_timeout_seconds, speed)
    timing = Timing(
        speed=speed,
        recovery_timeout=recovery,
        stabilisation=_scaled(settings.stabilisation_seconds, speed, zero_stays=True),
        heartbeat=recovery,  # unchecked on the emulator: never lapses before the wait ends
        tick=max(MIN_TICK_SECONDS, 60.0 / speed),
    )
    # The whole configuration, not only what was given: the emulator's own defaults
    # (runbook/local/synth.py) must never stand in for a setting of the team's.
    overrides = {key: value for key, value in team.items() if key not in REPLAY_KEYS}
    overrides.update(
        {
            "recoveryTimeoutSeconds": timing.recovery_timeout,
            "heartbeatSeconds": timing.heartbeat,
            "stabilisationSeconds": timing.stabilisation,
            "subscriptions": {
                topic: [{"protocol": "email", "endpoint": recording_endpoint(topic)}]
                for topic in TOPICS
            },
            "slackSecretName": "",
            "slackResponders": [],
            "diagnosticsRoleName": "",
        }
    )
    return Plan(settings=team, overrides=overrides, timing=timing)
