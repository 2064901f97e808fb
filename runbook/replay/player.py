"""Drive the local emulator through a history: the real stack, the real functions, the
history's times.

1. Start the emulator with the replay's settings (configuration.py) and the replay's clock
   handed to every function (clock.py); the stack's own alarms are not evaluated (they are
   about the runbook, not the history).
2. Deploy the synthesised stack, then recreate the history's alarms (their metrics and tags,
   no actions) in the state each had before its first change, without an event.
3. Set each change with SetAlarmState when its (compressed) time comes, the clock pinned to
   the change's exact time: the emulator turns it into the "CloudWatch Alarm State Change"
   event AWS would have sent, and the runbook reacts as deployed.
4. Skip quiet stretches: when no incident is open, no workflow runs and no event is being
   handled, history time jumps to just before the next change (nothing can happen meanwhile).
5. At the end of the window (or as soon as all is quiet after the last change), wait for the
   events in flight, then read what the runbook did: the incident records and the SNS
   deliveries to the recording subscribers.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runbook.replay import ReplayError
from runbook.replay.clock import ENV_NAME, ReplayClock
from runbook.replay.configuration import Plan
from runbook.replay.history import History, MetricAlarm

LOGGER = logging.getLogger(__name__)
# A change is set this long (machine time) after the replay starts or a quiet stretch ends.
LEAD_SECONDS = 0.5
# A stretch is worth skipping when the next change is more than this far away (machine time).
SKIP_AFTER_SECONDS = 2.0
# After the end of the window: how long events already delivered may take to be handled.
DRAIN_SECONDS = 20.0
MAX_REASON_DATA = 4000  # SetAlarmState's StateReasonData limit
# Execution environments started before the replay, per function (the rest: WARM_OTHERS), so
# a storm's first seconds are not cold starts: at 120x a 2 s cold start is 4 history minutes.
WARM_FUNCTIONS = {"Ingest": 5, "Recovery": 4}
WARM_OTHERS = 2
WARM_UP_PAYLOAD = '{"runbook-replay": "warm-up"}'
BARE_NAMESPACE = "RunbookReplay"
TOPIC_OUTPUTS = {
    "critical": "CriticalTopicArn",
    "high": "HighTopicArn",
    "standard": "NotificationTopicArn",
    "escalation": "EscalationTopicArn",
}
OPEN_STATUSES = ("OPEN", "MONITORING")

Progress = Callable[[str], None]


class LagMeter:
    """How long the runbook took to handle each change (machine seconds): from SetAlarmState
    until no event is being handled any more, sampled every `every` seconds on a thread (an
    upper bound: another event in flight counts too). Large lags mean the runbook fell behind
    the replay, and its times (a resolution, a closing) came late in history time."""

    def __init__(self, queued: Callable[[], int], every: float = 0.02) -> None:
        self._queued = queued
        self._every = every
        self._pending: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.lags: list[float] = []
        self._thread = threading.Thread(target=self._run, name="replay-lag", daemon=True)

    def __enter__(self) -> LagMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def fed(self) -> None:
        with self._lock:
            self._pending.append(time.monotonic())

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            if self._queued():
                continue
            now = time.monotonic()
            with self._lock:
                self.lags += [now - fed for fed in self._pending]
                self._pending.clear()


@dataclass
class Played:
    """What the runbook did, as read from the emulator (report.py counts it)."""

    incidents: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    topics: dict[str, str]  # topic name (critical, high, standard, escalation) -> ARN
    start: datetime
    end: datetime
    changes: int
    running_at_end: int
    rejected_events: int
    skipped_seconds: float  # history time skipped while nothing was open
    wall_seconds: float
    latest_change_seconds: float  # the most a change was set after its (compressed) time
    handling_seconds: list[float]  # per change: how long the runbook took (history seconds)
    notes: list[str] = field(default_factory=list)


def alarm_arguments(name: str, alarm: MetricAlarm | None, tags: dict[str, str]) -> dict[str, Any]:
    """PutMetricAlarm's arguments recreating the alarm as configured, without its actions."""
    arguments: dict[str, Any] = {
        "AlarmName": name,
        "ActionsEnabled": False,
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
    }
    if alarm is None:  # only the history is known: a metric that names no resource
        arguments.update(
            Namespace=BARE_NAMESPACE,
            MetricName=name[:255],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        return arguments
    arguments.update(
        EvaluationPeriods=alarm.EvaluationPeriods, ComparisonOperator=alarm.ComparisonOperator
    )
    optional: dict[str, Any] = {
        "AlarmDescription": alarm.AlarmDescription or None,
        "Threshold": alarm.Threshold,
        "DatapointsToAlarm": alarm.DatapointsToAlarm,
        "TreatMissingData": alarm.TreatMissingData,
        "ThresholdMetricId": alarm.ThresholdMetricId,
    }
    if alarm.Metrics:
        optional["Metrics"] = alarm.Metrics
    else:
        optional.update(
            Namespace=alarm.Namespace or BARE_NAMESPACE,
            MetricName=alarm.MetricName or name[:255],
            Dimensions=[{"Name": d.Name, "Value": d.Value} for d in alarm.Dimensions],
            Statistic=alarm.Statistic if alarm.Statistic or alarm.ExtendedStatistic else "Sum",
            ExtendedStatistic=alarm.ExtendedStatistic,
            Period=alarm.Period or 60,
            Unit=alarm.Unit,
        )
    arguments.update({key: value for key, value in optional.items() if value is not None})
    if "Threshold" not in arguments and "ThresholdMetricId" not in arguments:
        arguments["Threshold"] = 0.0
    return arguments


class Player:
    """One replay of `history` with `plan` on an emulator of its own (one per process)."""

    def __init__(
        self,
        history: History,
        plan: Plan,
        *,
        port: int,
        workdir: Path,
        end: datetime | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.history = history
        self.plan = plan
        self.port = port
        self.workdir = workdir
        self.end = end
        self._progress = progress or (lambda line: None)
        self._skipped = 0.0
        self._latest = 0.0
        self._last_fed = 0.0
        self._lags = LagMeter(lambda: 0)
        self._warm_up_items: set[str] = set()

    # -- the whole replay --------------------------------------------------------------------
    def run(self) -> Played:
        from runbook.local.deploy import DeployError
        from runbook.local.emulator import LocalEmulator
        from runbook.local.server import PortInUseError
        from runbook.local.synth import SynthError

        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        timing = self.plan.timing
        emulator = LocalEmulator(
            self.port, self.workdir, self.plan.overrides, schedule_tick_seconds=timing.tick
        )
        clock = ReplayClock(self.workdir / "clock.json")
        self._progress(f"starting the emulator on {emulator.endpoint_url} ...")
        try:
            emulator.start()
            emulator.alarm_evaluator.stop()  # the stack's own alarms are not in the history
            emulator.runtime.environment[ENV_NAME] = str(clock.path)
            with clock.moto_follows():
                self._progress("synthesising and deploying the stack ...")
                emulator.deploy()
                self._create_alarms(emulator)
                self._progress("starting the functions' execution environments ...")
                self._warm_up(emulator)
                end = self._window_end()
                alarms = len(self.history.initial)
                self._progress(
                    f"replaying {len(self.history.changes)} changes of {alarms} "
                    f"alarm{'' if alarms == 1 else 's'} at {timing.speed:g}x "
                    f"(history {_hhmm(self.history.first)} to {_hhmm(end)}) ..."
                )
                clock.start(self.history.first, timing.speed, LEAD_SECONDS)
                with LagMeter(lambda: int(emulator.runtime.queued)) as self._lags:
                    self._feed(emulator, clock)
                    self._run_out(emulator, clock, end)
                    finished = clock.now()
                    self._drain(emulator)
                return self._collect(emulator, finished, time.monotonic() - began)
        except (ClientError, BotoCoreError) as exc:
            raise ReplayError(f"the emulator refused a replay step: {exc}") from None
        except (PortInUseError, SynthError, DeployError) as exc:
            raise ReplayError(f"the emulator could not start: {exc}") from None
        finally:
            emulator.stop()

    def _window_end(self) -> datetime:
        if self.end is not None:
            return max(self.end, self.history.last)
        settings = self.plan.settings
        # By then every incident has closed one way or another (escalations run out).
        waits = (settings["maxEscalations"] + 1) * settings["recoveryTimeoutSeconds"]
        return self.history.last + timedelta(seconds=waits + settings["stabilisationSeconds"] + 60)

    # -- setting up ------------------------------------------------------------------------
    def _create_alarms(self, emulator: Any) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch = emulator.client("cloudwatch")
        backend = cloudwatch_backends[emulator.account][emulator.region]
        before = (self.history.first - timedelta(minutes=1)).replace(tzinfo=None)
        for name in self.history.alarm_names:
            arguments = alarm_arguments(
                name, self.history.alarms.get(name), self.history.tags.get(name, {})
            )
            try:
                cloudwatch.put_metric_alarm(**arguments)
            except ClientError as exc:
                raise ReplayError(f"cannot recreate alarm {name} on the emulator: {exc}") from None
            # The state the alarm was in when the window opened, set without an event: the
            # replay starts from the world as it was, with no incident open.
            alarm = backend.alarms[name]
            alarm.state_value = self.history.initial[name]
            alarm.state_reason = "replay: the state before the window"
            alarm.state_updated_timestamp = before

    def _warm_up(self, emulator: Any) -> None:
        """Invoke each function (a few times at once for ingest and recovery) with a payload
        it refuses, so the replay starts on warm execution environments; the events ingest
        and recovery record as rejected are remembered and not reported."""
        functions = emulator.client("lambda")
        names = [
            function["FunctionName"]
            for page in functions.get_paginator("list_functions").paginate()
            for function in page["Functions"]
        ]
        jobs: list[str] = []
        for name in sorted(names):
            kind = re.search(r"Functions(?P<kind>[A-Za-z]+?)Function", name)
            jobs += [name] * WARM_FUNCTIONS.get(kind.group("kind") if kind else "", WARM_OTHERS)

        def invoke(name: str) -> None:
            functions.invoke(FunctionName=name, Payload=WARM_UP_PAYLOAD.encode())

        with ThreadPoolExecutor(max_workers=max(WARM_FUNCTIONS.values())) as pool:
            list(pool.map(invoke, jobs))
        table = emulator.outputs["IncidentTableName"]
        self._warm_up_items = {
            str(item["incident_id"])
            for item in _scan(emulator, table)
            if "#" in str(item["incident_id"])
        }

    # -- feeding the changes ------------------------------------------------------------------
    def _feed(self, emulator: Any, clock: ReplayClock) -> None:
        cloudwatch = emulator.client("cloudwatch")
        changes = self.history.changes
        step = max(1, len(changes) // 10)
        for index, change in enumerate(changes, start=1):
            self._wait_for(emulator, clock, change.at)
            self._latest = max(self._latest, time.time() - clock.wall_at(change.at))
            arguments: dict[str, Any] = {
                "AlarmName": change.alarm,
                "StateValue": change.new,
                "StateReason": change.reason,
            }
            if change.reason_data and len(change.reason_data) <= MAX_REASON_DATA:
                arguments["StateReasonData"] = change.reason_data
            with clock.pinned(change.at):
                cloudwatch.set_alarm_state(**arguments)
            self._lags.fed()
            self._last_fed = time.monotonic()
            if index % step == 0 or index == len(changes):
                self._progress(f"  history {_hhmm(change.at)}: {index}/{len(changes)} changes set")

    def _wait_for(self, emulator: Any, clock: ReplayClock, at: datetime) -> None:
        """Sleep until history time `at`, skipping the stretch when nothing is happening."""
        while True:
            remaining = clock.wall_at(at) - time.time()
            if remaining <= SKIP_AFTER_SECONDS:
                clock.sleep_until(at)
                return
            if self._quiet(emulator):
                before = clock.now()
                clock.jump(at - timedelta(seconds=LEAD_SECONDS * clock.anchor.speed))
                self._skipped += (clock.now() - before).total_seconds()
                continue
            time.sleep(min(1.0, remaining - SKIP_AFTER_SECONDS))

    def _run_out(self, emulator: Any, clock: ReplayClock, end: datetime) -> None:
        """After the last change: until the end of the window, or until all is quiet."""
        while clock.now() < end:
            if self._quiet(emulator):
                return
            remaining = clock.wall_at(end) - time.time()
            time.sleep(max(0.0, min(1.0, remaining)))

    def _quiet(self, emulator: Any) -> bool:
        """No event being handled, no workflow running, no incident open."""
        if time.monotonic() - self._last_fed < LEAD_SECONDS or emulator.runtime.queued:
            return False
        sfn = emulator.client("stepfunctions")
        running = sfn.list_executions(
            stateMachineArn=emulator.outputs["StateMachineArn"],
            statusFilter="RUNNING",
            maxResults=1,
        )["executions"]
        if running:
            return False
        return not any(_is_open(item) for item in self._incident_items(emulator))

    def _drain(self, emulator: Any) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        while emulator.runtime.queued and time.monotonic() < deadline:
            time.sleep(0.2)

    # -- reading what happened -------------------------------------------------------------------
    def _incident_items(self, emulator: Any) -> list[dict[str, Any]]:
        table = emulator.outputs["IncidentTableName"]
        return [item for item in _scan(emulator, table) if "#" not in str(item["incident_id"])]

    def _collect(self, emulator: Any, finished: datetime, wall_seconds: float) -> Played:
        outputs = emulator.outputs
        items = [
            item
            for item in _scan(emulator, outputs["IncidentTableName"])
            if str(item["incident_id"]) not in self._warm_up_items
        ]
        incidents = [item for item in items if "#" not in str(item["incident_id"])]
        rejected = sum(1 for item in items if str(item["incident_id"]).startswith("error#"))
        running = emulator.client("stepfunctions").list_executions(
            stateMachineArn=outputs["StateMachineArn"], statusFilter="RUNNING"
        )["executions"]
        notes = list(self.history.notes)
        if rejected:
            notes.append(f"{rejected} events were rejected by the runbook (see the emulator logs)")
        return Played(
            incidents=incidents,
            deliveries=emulator.deliveries(),
            topics={topic: outputs[key] for topic, key in TOPIC_OUTPUTS.items()},
            start=self.history.first,
            end=finished,
            changes=len(self.history.changes),
            running_at_end=len(running),
            rejected_events=rejected,
            skipped_seconds=self._skipped,
            wall_seconds=wall_seconds,
            latest_change_seconds=self._latest,
            handling_seconds=sorted(lag * self.plan.timing.speed for lag in self._lags.lags),
            notes=notes,
        )


def _is_open(item: dict[str, Any]) -> bool:
    return item.get("status") in OPEN_STATUSES and not item.get("resolved_at")


def _scan(emulator: Any, table_name: str) -> list[dict[str, Any]]:
    import boto3

    table = boto3.resource(
        "dynamodb",
        endpoint_url=emulator.endpoint_url,
        region_name=emulator.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
    ).Table(table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
