"""EventBridge Scheduler schedules, fired by the emulator (moto stores them, never fires them).

Not to be confused with schedule.py, which fires EventBridge *rules* with a ScheduleExpression.
EventBridge Scheduler is its own service (``AWS::Scheduler::Schedule``); the drill schedule of
issue 15 is one. A thread ticks every ``tick_seconds``; each tick every ENABLED schedule of the
emulator's account and region with a valid ``rate(...)``, ``cron(...)`` or ``at(...)``
expression invokes its templated target once. Time is compressed, as for scheduled rules: a
recurring schedule fires every tick whatever its rate (cron fields are not evaluated) while
inside its StartDate/EndDate; a one-time ``at(...)`` schedule fires at the first tick after it
was created, once, and is deleted afterwards when its ActionAfterCompletion is DELETE.

The target receives the schedule's ``Input`` with the context attributes replaced
(``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``), or ``{}`` without one:

- a Lambda function ARN: an asynchronous invocation through the emulator's runtime;
- a Step Functions state machine ARN: StartExecution with the input;
- an event bus ARN: PutEvents of one entry, ``EventBridgeParameters.Source``/``DetailType``
  and the input as ``Detail`` (rules on that bus route it as any other event);
- an SQS queue ARN: SendMessage (``SqsParameters.MessageGroupId`` for FIFO queues).

Universal targets (``arn:aws:scheduler:::aws-sdk:...``) and the other templated ones are logged
as not emulated, as are RetryPolicy and DeadLetterConfig. Each firing is a line in
``logs/schedule.log`` (``schedule``, ``target``, ``execution``, ``outcome``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.events.models import events_backends
from moto.scheduler.models import Schedule, scheduler_backends
from moto.sqs import sqs_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.arns import parse_arn

from runbook.local import stack_readiness
from runbook.local.jsonlog import JsonLog
from runbook.local.schedule import parse_schedule

LOGGER = logging.getLogger(__name__)
_AT = re.compile(r"^at\(\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\s*\)$")


class AsyncInvoker(Protocol):
    """What a Lambda target needs: LambdaRuntime.invoke_async."""

    def invoke_async(self, fn: LambdaFunction, payload: str | bytes | None) -> None: ...


@dataclass(frozen=True)
class Expression:
    kind: str  # rate | cron | at
    at: dt.datetime | None = None


def parse_expression(text: str | None) -> Expression | None:
    """``rate(...)``/``cron(...)`` as for rules, or ``at(yyyy-mm-ddThh:mm:ss)``."""
    value = (text or "").strip()
    one_time = _AT.match(value)
    if one_time:
        return Expression("at", dt.datetime.fromisoformat(one_time.group(1)))
    parsed = parse_schedule(value)
    return Expression(parsed.kind) if parsed is not None else None


def _moment(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def render_input(schedule: Schedule, when: dt.datetime, execution_id: str) -> str:
    """The payload the target gets: Input with the context attributes replaced, or ``{}``."""
    text = schedule.target.get("Input")
    if text is None:
        return "{}"
    replacements = {
        "<aws.scheduler.schedule-arn>": schedule.arn,
        "<aws.scheduler.scheduled-time>": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.attempt-number>": "1",
    }
    rendered = str(text)
    for keyword, value in replacements.items():
        rendered = rendered.replace(keyword, value)
    return rendered


class ScheduleRunner:
    """Fires the EventBridge Scheduler schedules of one account/region on a thread."""

    def __init__(
        self,
        invoker: AsyncInvoker | None,
        account: str,
        region: str,
        log_file: Path | None,
        *,
        tick_seconds: float = 5.0,
    ) -> None:
        if tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")
        self.invoker = invoker
        self.account = account
        self.region = region
        self.log = JsonLog(log_file)
        self.tick_seconds = tick_seconds
        self._fired_once: set[tuple[str, float]] = set()  # (ARN, creation date) of at(...)
        self._invalid: set[tuple[str, str]] = set()
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            if stack_readiness.deploying():
                continue  # as schedule.py: nothing fires into a stack still being deployed
            try:
                self.fire_schedules()
            except Exception:  # never let one bad tick end the schedules
                LOGGER.exception("EventBridge Scheduler tick failed")

    # -- one tick --------------------------------------------------------------------------
    def due(self, now: dt.datetime) -> list[tuple[Schedule, Expression]]:
        backend = scheduler_backends[self.account][self.region]
        found = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                if schedule.state != "ENABLED":
                    continue
                expression = parse_expression(schedule.schedule_expression)
                if expression is None:
                    key = (schedule.arn, str(schedule.schedule_expression))
                    if key not in self._invalid:
                        self._invalid.add(key)
                        self.log.write(
                            schedule=f"{group.name}/{schedule.name}",
                            target=schedule.target.get("Arn"),
                            execution=None,
                            outcome=f"skipped: {schedule.schedule_expression!r}",
                        )
                    continue
                if expression.kind == "at":
                    if (schedule.arn, float(schedule.creation_date)) in self._fired_once:
                        continue
                else:
                    start, end = _moment(schedule.start_date), _moment(schedule.end_date)
                    if (start is not None and now < start) or (end is not None and now > end):
                        continue
                found.append((schedule, expression))
        return found

    def fire_schedules(self) -> list[dict[str, Any]]:
        """One tick now: every due schedule invokes its target once. Returns the firings
        (``schedule`` ARN, ``target``, ``execution`` id, ``input``, ``outcome``)."""
        with self._tick_lock:
            now = dt.datetime.now(dt.UTC)
            fired = []
            for schedule, expression in self.due(now):
                fired.append(self._fire(schedule, now))
                if expression.kind == "at":
                    self._fired_once.add((schedule.arn, float(schedule.creation_date)))
                    if schedule.action_after_completion == "DELETE":
                        backend = scheduler_backends[self.account][self.region]
                        backend.delete_schedule(schedule.group_name, schedule.name)
            return fired

    def _fire(self, schedule: Schedule, now: dt.datetime) -> dict[str, Any]:
        execution_id = secrets.token_hex(8)
        payload = render_input(schedule, now, execution_id)
        target = dict(schedule.target)
        arn = str(target.get("Arn", ""))
        try:
            outcome = self._deliver(schedule, target, payload)
        except Exception as err:  # Scheduler would retry per RetryPolicy, then dead-letter
            LOGGER.exception("schedule %s could not invoke %s", schedule.name, arn)
            outcome = f"failed: {type(err).__name__}: {err}"
        self.log.write(
            schedule=f"{schedule.group_name}/{schedule.name}",
            target=arn,
            execution=execution_id,
            outcome=outcome,
        )
        return {
            "schedule": schedule.arn,
            "target": arn,
            "execution": execution_id,
            "input": payload,
            "outcome": outcome,
        }

    def _deliver(self, schedule: Schedule, target: dict[str, Any], payload: str) -> str:
        arn = parse_arn(str(target["Arn"]))
        if arn.service == "lambda":
            if self.invoker is None:
                raise RuntimeError("no Lambda runtime to invoke the function with")
            function = lambda_backend(arn.account, arn.region).get_function(target["Arn"], None)
            self.invoker.invoke_async(function, payload)
            return "invoked"
        if arn.service == "states":
            backend = stepfunctions_parser_backends[arn.account][arn.region]
            execution = backend.start_execution(
                target["Arn"], name=str(uuid.uuid4()), execution_input=payload
            )
            return f"started {execution.execution_arn}"
        if arn.service == "events" and arn.resource_type == "event-bus":
            parameters = target.get("EventBridgeParameters") or {}
            entry = {
                "Source": parameters.get("Source"),
                "DetailType": parameters.get("DetailType"),
                "Detail": payload,
                "EventBusName": target["Arn"],
            }
            result = events_backends[arn.account][arn.region].put_events([entry])
            failed = [e for e in result if "ErrorCode" in e]
            if failed:
                raise RuntimeError(f"PutEvents refused the event: {failed[0]}")
            return "put"
        if arn.service == "sqs":
            group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
            sqs_backends[arn.account][arn.region].send_message(
                queue_name=arn.resource_id, message_body=payload, group_id=group_id
            )
            return "sent"
        return f"not emulated: {arn.service} targets"
