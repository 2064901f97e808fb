"""EventBridge delivery to Lambda and Step Functions targets.

moto's EventBridge matches events against rules but delivers only to SQS, CloudWatch Logs and
event-bus targets (a Lambda target raises NotImplementedError). The emulator wraps moto's
per-rule delivery (``Rule.send_to_targets``): moto's own EventPattern decides whether the rule
matches, Lambda targets are invoked asynchronously (as EventBridge does) and Step Functions
targets start an execution; every other target still goes through moto. Because the hook sits
where moto delivers, each event reaches each matching rule once, whether it was put through the
API or emitted by the emulator itself (alarm state changes).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from moto.awslambda.utils import get_backend as lambda_backend
from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.arns import parse_arn

from runbook.local.lambda_runtime import LambdaRuntime

LOGGER = logging.getLogger(__name__)


def as_aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS delivers it: ISO-8601 ``time`` (moto keeps epoch seconds) and none of
    moto's bookkeeping fields."""
    delivered = copy.deepcopy(event)
    delivered.pop("ingestion-time", None)
    when = delivered.get("time")
    if isinstance(when, (int, float)):
        stamp = dt.datetime.fromtimestamp(when, tz=dt.UTC)
        delivered["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def _resolve_path(document: Any, path: str) -> Any:
    """The InputPath subset rules use in practice: ``$`` and ``$.a.b``."""
    if path in ("", "$"):
        return document
    node = document
    for part in path.removeprefix("$.").split("."):
        node = node[part] if isinstance(node, dict) else None
    return node


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The payload a target receives: Input, InputPath, InputTransformer or the event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(_resolve_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        rendered = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event={**event, "ingestion-time": event.get("time")},  # type: ignore[typeddict-item]
        )
        return rendered if isinstance(rendered, str) else json.dumps(rendered)
    return json.dumps(event)


class EventRouter:
    """Delivers matched events to the targets moto cannot reach, and keeps a delivery log."""

    def __init__(self, runtime: LambdaRuntime, log_file: Path) -> None:
        self.runtime = runtime
        self.log_file = log_file
        self._lock = threading.Lock()

    def deliver(self, rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = parse_arn(target["Arn"])
        payload = target_input(target, event)
        try:
            if arn.service == "lambda":
                backend = lambda_backend(arn.account, arn.region)
                function = backend.get_function(target["Arn"], None)
                self.runtime.invoke_async(function, payload)
            else:
                sfn = stepfunctions_parser_backends[arn.account][arn.region]
                execution = sfn.start_execution(
                    target["Arn"], name=str(uuid.uuid4()), execution_input=payload
                )
                LOGGER.info("rule %s started %s", rule.name, execution.execution_arn)
            self._record(rule, target["Arn"], event, "delivered")
        except Exception as err:  # EventBridge would retry, then dead-letter; we log it
            LOGGER.exception("rule %s could not deliver to %s", rule.name, target["Arn"])
            self._record(rule, target["Arn"], event, f"failed: {err}")

    def _record(self, rule: Rule, target: str, event: dict[str, Any], outcome: str) -> None:
        line = json.dumps(
            {
                "rule": rule.name,
                "target": target,
                "outcome": outcome,
                "id": event.get("id"),
                "source": event.get("source"),
                "detail-type": event.get("detail-type"),
            }
        )
        with self._lock, open(self.log_file, "a", encoding="utf-8") as out:
            out.write(line + "\n")


_ROUTED_SERVICES = ("lambda", "states")
_original_send_to_targets = Rule.send_to_targets
_active_router: EventRouter | None = None


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    router = _active_router
    if router is None:
        _original_send_to_targets(self, original_event, transform_input)
        return
    # moto delivers through disabled rules too, and through a rule without an event pattern
    # (a scheduled rule: moto's empty pattern matches everything); EventBridge does neither.
    # Scheduled rules get their events from the emulator's scheduler (schedule.py).
    if self.state != "ENABLED" or not self.event_pattern.get_pattern():
        return
    if not self.event_pattern.matches_event(original_event):
        return
    routed = [t for t in self.targets if parse_arn(t["Arn"]).service in _ROUTED_SERVICES]
    others = [t for t in self.targets if t not in routed]
    if others:
        rest = copy.copy(self)
        rest.targets = others
        _original_send_to_targets(rest, original_event, transform_input)
    if routed:
        event = as_aws_event(original_event)
        for target in routed:
            router.deliver(self, target, event)


def install_event_routing(router: EventRouter) -> None:
    """Route matched events to Lambda/Step Functions targets (one emulator per process)."""
    global _active_router
    _active_router = router
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]


def remove_event_routing() -> None:
    global _active_router
    _active_router = None
    Rule.send_to_targets = _original_send_to_targets  # type: ignore[method-assign]


def put_event(
    account: str,
    region: str,
    *,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str],
    time: dt.datetime,
    bus: str = "default",
) -> None:
    """Put an event the way an AWS service does (services may use ``aws.*`` sources).

    ``Time`` goes in as epoch seconds, as it arrives from PutEvents: moto's own targets (SQS,
    logs) render it into JSON unquoted; Lambda and Step Functions targets get ISO-8601."""
    events_backends[account][region].put_events(
        [
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": resources,
                "Time": time.timestamp(),
                "EventBusName": bus,
            }
        ]
    )
