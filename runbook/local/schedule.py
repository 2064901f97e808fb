"""EventBridge scheduled rules, fired by the emulator (moto stores them but never fires them).

A background thread ticks every ``tick_seconds``; each tick every ENABLED rule on the default bus
whose ``ScheduleExpression`` is a valid ``rate(...)`` or ``cron(...)`` sends one "Scheduled Event"
to each of its targets. Time is compressed on the emulator (recovery timeouts are seconds, not
hours), and AWS rates are at least one minute, so every scheduled rule fires every tick whatever
its rate, and a cron expression is not evaluated: the tick is the schedule.

Delivery follows EventBridge: Lambda and Step Functions targets go through the same
``EventRouter`` as pattern-matched events (async invoke, StartExecution; outcome in
``events.log``); SQS and CloudWatch Logs targets are written here, because moto's own delivery
ignores a target's ``Input`` and expects epoch ``time``. ``Input``/``InputPath``/
``InputTransformer`` apply to every target (``events.target_input``). Each firing is recorded in
``schedule.log``; a failing target is logged there and never stops the thread.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.core.utils import unix_time_millis
from moto.events.models import Rule, events_backends
from moto.logs import logs_backends
from moto.sqs import sqs_backends
from moto.utilities.arns import parse_arn

from runbook.local import stack_readiness
from runbook.local.events import EventRouter, target_input

LOGGER = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\(\s*(\S+(?:\s+\S+){5})\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_ROUTED_SERVICES = ("lambda", "states")


@dataclass(frozen=True)
class Schedule:
    """A parsed ScheduleExpression; ``rate_seconds`` is the period on AWS (None for cron)."""

    kind: str
    rate_seconds: int | None = None


def parse_schedule(expression: str | None) -> Schedule | None:
    """``rate(N minute|minutes|hour|hours|day|days)`` or ``cron(<6 fields>)``; None otherwise."""
    text = (expression or "").strip()
    rate = _RATE.match(text)
    if rate:
        count = int(rate.group(1))
        if count < 1:
            return None
        return Schedule("rate", count * _UNIT_SECONDS[rate.group(2).removesuffix("s")])
    if _CRON.match(text):
        return Schedule("cron")
    return None


def scheduled_event(rule: Rule, when: dt.datetime) -> dict[str, Any]:
    """The event EventBridge sends for a scheduled rule (its documented shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


class Scheduler:
    """Fires the scheduled rules of one account/region every ``tick_seconds`` on a thread."""

    def __init__(
        self,
        router: EventRouter,
        account: str,
        region: str,
        log_file: Path,
        *,
        tick_seconds: float = 5.0,
    ) -> None:
        if tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")
        self.router = router
        self.account = account
        self.region = region
        self.log_file = log_file
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()  # one tick at a time (thread and explicit calls)
        self._log_lock = threading.Lock()
        self._invalid: set[tuple[str, str]] = set()  # reported once, not every tick
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Wake the thread and wait for it (a tick in progress only hands work off, so it is
        short); safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOGGER.warning("scheduler thread still running after %.0f s", timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            if stack_readiness.deploying():
                continue  # a rule the deploy just made may target a function not wired yet
            try:
                self.fire_scheduled_rules()
            except Exception:  # never let one bad tick end the schedule
                LOGGER.exception("scheduled rules tick failed")

    # -- one tick --------------------------------------------------------------------------
    def scheduled_rules(self) -> list[Rule]:
        """ENABLED rules of the default bus with a valid ScheduleExpression."""
        bus = events_backends[self.account][self.region].event_buses.get("default")
        if bus is None:
            return []
        rules = list(bus.rules.values())  # a snapshot: API threads add and remove rules
        due = []
        for rule in rules:
            if rule.state != "ENABLED" or not rule.scheduled_expression:
                continue
            if parse_schedule(rule.scheduled_expression) is None:
                key = (rule.name, rule.scheduled_expression)
                if key not in self._invalid:
                    self._invalid.add(key)
                    self._record(rule.name, "", None, f"skipped: {rule.scheduled_expression!r}")
                continue
            due.append(rule)
        return due

    def fire_scheduled_rules(self) -> list[dict[str, Any]]:
        """One tick now: every due rule sends one Scheduled Event to each of its targets.
        Returns the events sent (one per rule)."""
        with self._tick_lock:
            fired = []
            now = dt.datetime.now(dt.UTC)
            for rule in self.scheduled_rules():
                event = scheduled_event(rule, now)
                for target in list(rule.targets):
                    self._deliver(rule, target, event)
                fired.append(event)
            return fired

    def _deliver(self, rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target.get("Arn", "")
        try:
            service = parse_arn(arn).service
            if service in _ROUTED_SERVICES:
                self.router.deliver(rule, target, event)  # records its outcome in events.log
                outcome = "routed"
            else:
                _deliver_to_moto_target(rule, target, event)
                outcome = "delivered"
        except Exception as err:  # EventBridge would retry, then dead-letter; we log it
            LOGGER.exception("scheduled rule %s could not deliver to %s", rule.name, arn)
            outcome = f"failed: {type(err).__name__}: {err}"
        self._record(rule.name, arn, event["id"], outcome)

    def _record(self, rule: str, target: str, event_id: str | None, outcome: str) -> None:
        line = json.dumps(
            {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "rule": rule,
                "target": target,
                "id": event_id,
                "outcome": outcome,
            }
        )
        try:
            with self._log_lock, open(self.log_file, "a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            LOGGER.exception("could not write %s", self.log_file)


def _deliver_to_moto_target(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """SQS and CloudWatch Logs targets, with the target's input applied."""
    arn = parse_arn(target["Arn"])
    payload = target_input(target, event)
    if arn.service == "sqs":
        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        sqs_backends[arn.account][arn.region].send_message(
            queue_name=arn.resource_id, message_body=payload, group_id=group_id
        )
    elif arn.service == "logs" and arn.resource_type == "log-group":
        group = arn.resource_id.removesuffix(":*")
        logs = logs_backends[arn.account][arn.region]
        stream = str(uuid.uuid4())
        logs.create_log_stream(group, stream)
        logs.put_log_events(
            group, stream, [{"timestamp": int(unix_time_millis()), "message": payload}]
        )
    else:
        raise NotImplementedError(f"scheduled delivery to {arn.service} targets is not emulated")
