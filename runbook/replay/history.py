"""Alarm state history: the saved responses read, validated and put in replay order.

Input is what CloudWatch answers, as JSON (docs/replay.md, "The history file"): one response
or a list of them, any mix of DescribeAlarmHistory pages (`AlarmHistoryItems`),
DescribeAlarms pages (`MetricAlarms`, the alarms' metrics: what folding and namespace
severities need) and ListTagsForResource answers with the ARN asked for (`ResourceARN`,
`Tags`: the `Severity` tag). `runbook replay --save` writes exactly that list.

Only metric alarms' `StateUpdate` items are replayed; everything else that is left out is
counted in a note, never dropped silently. A malformed item is an error naming its place,
e.g. `history.json[1].AlarmHistoryItems[7].HistoryData.newState.stateValue: ...`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import field

from runbook.replay import ReplayError
from shared.records import NONEMPTY, read, read_json

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
STATE_UPDATE = "StateUpdate"
METRIC_ALARM = "MetricAlarm"
_ALARM_ARN_NAME = re.compile(r"^arn:[\w-]+:cloudwatch:[\w-]*:\d*:alarm:(?P<name>.+)$")


# -- the responses, as CloudWatch documents them ---------------------------------------------
class StateDoc(msgspec.Struct, kw_only=True):
    stateValue: State
    stateReason: str = ""
    stateReasonData: dict[str, Any] | None = None


class HistoryData(msgspec.Struct, kw_only=True):
    """The `HistoryData` JSON string of a StateUpdate item."""

    oldState: StateDoc
    newState: StateDoc


class HistoryItem(msgspec.Struct, kw_only=True):
    AlarmName: Annotated[str, NONEMPTY]
    Timestamp: datetime
    HistoryItemType: Annotated[str, NONEMPTY]
    AlarmType: str = METRIC_ALARM
    HistoryData: str = ""


class Dimension(msgspec.Struct, kw_only=True, frozen=True):
    Name: Annotated[str, NONEMPTY]
    Value: Annotated[str, NONEMPTY]


class MetricAlarm(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The part of a DescribeAlarms `MetricAlarms` entry the replay recreates the alarm from
    (its actions are left out: the replay pages through the runbook's topics only)."""

    AlarmName: Annotated[str, NONEMPTY]
    AlarmArn: str = ""
    AlarmDescription: str = ""
    Namespace: str | None = None
    MetricName: str | None = None
    Dimensions: list[Dimension] = field(default_factory=list)
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Period: int | None = None
    Unit: str | None = None
    EvaluationPeriods: Annotated[int, msgspec.Meta(ge=1)] = 1
    DatapointsToAlarm: int | None = None
    Threshold: float | None = None
    ComparisonOperator: str = "GreaterThanOrEqualToThreshold"
    TreatMissingData: str | None = None
    Metrics: list[dict[str, Any]] | None = None  # metric math, passed on as given
    ThresholdMetricId: str | None = None


class Tag(msgspec.Struct, kw_only=True, frozen=True):
    Key: Annotated[str, NONEMPTY]
    Value: str


class Response(msgspec.Struct, kw_only=True):
    """One saved response of DescribeAlarmHistory, DescribeAlarms or ListTagsForResource
    (other keys, such as boto3's ResponseMetadata, are ignored). Items are checked one by
    one afterwards, so an error names the item."""

    AlarmHistoryItems: list[Any] | None = None
    MetricAlarms: list[Any] | None = None
    CompositeAlarms: list[Any] | None = None
    ResourceARN: str | None = None
    Tags: list[Tag] | None = None


# -- what the replay works with ----------------------------------------------------------------
class StateChange(msgspec.Struct, kw_only=True, frozen=True):
    """One state change to replay: SetAlarmState with these values, at `at` (history time)."""

    alarm: str
    at: datetime
    old: State
    new: State
    reason: str
    reason_data: str | None = None  # JSON text, as SetAlarmState takes it


class Parsed(msgspec.Struct, kw_only=True):
    """Everything the input holds, before the window and the alarm filter."""

    items: list[StateChange]
    alarms: dict[str, MetricAlarm]
    tags: dict[str, dict[str, str]]
    other_items: dict[str, int]  # item type (and composite alarms) -> how many, not replayed


class History(msgspec.Struct, kw_only=True):
    """The changes to replay, in time order, and what the alarms need to be recreated."""

    changes: list[StateChange]
    alarms: dict[str, MetricAlarm]
    tags: dict[str, dict[str, str]]
    initial: dict[str, State]  # each alarm's state before its first replayed change
    notes: list[str]
    source: str

    @property
    def alarm_names(self) -> list[str]:
        return sorted(self.initial)

    @property
    def first(self) -> datetime:
        return self.changes[0].at

    @property
    def last(self) -> datetime:
        return self.changes[-1].at


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_file(path: Path) -> list[Any]:
    """The file's responses (one response is a list of one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"cannot read the history file {path}: {exc.strerror}") from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not JSON ({exc})") from None
    if isinstance(loaded, dict):
        return [loaded]
    if isinstance(loaded, list):
        return loaded
    raise ReplayError(
        f"{path}: expected a CloudWatch response (a JSON object) or a list of them, "
        f"got {type(loaded).__name__}"
    )


def _state_change(item: HistoryItem, where: str) -> StateChange:
    data = read_json(HistoryData, item.HistoryData or "", f"{where}.HistoryData", error=ReplayError)
    new = data.newState
    reason_data = json.dumps(new.stateReasonData) if new.stateReasonData is not None else None
    return StateChange(
        alarm=item.AlarmName,
        at=_aware(item.Timestamp),
        old=data.oldState.stateValue,
        new=new.stateValue,
        reason=new.stateReason[:1023] or f"replayed: {new.stateValue}",
        reason_data=reason_data,
    )


def _name_of(arn: str, by_arn: dict[str, str]) -> str | None:
    if arn in by_arn:
        return by_arn[arn]
    match = _ALARM_ARN_NAME.match(arn)
    return match.group("name") if match else None


def parse(responses: Iterable[Any], where: str) -> Parsed:
    """Validate every response and item; ReplayError names the first bad one."""
    items: list[StateChange] = []
    alarms: dict[str, MetricAlarm] = {}
    tag_answers: list[tuple[str, list[Tag], str]] = []
    other: Counter[str] = Counter()
    for i, raw in enumerate(responses):
        at = f"{where}[{i}]"
        response = read(Response, raw, at, error=ReplayError)
        known = (
            response.AlarmHistoryItems,
            response.MetricAlarms,
            response.CompositeAlarms,
            response.Tags,
        )
        if all(part is None for part in known):
            keys = ", ".join(sorted(raw)) if isinstance(raw, dict) else type(raw).__name__
            raise ReplayError(
                f"{at}: not a DescribeAlarmHistory, DescribeAlarms or ListTagsForResource "
                f"response (keys: {keys or 'none'})"
            )
        for j, raw_item in enumerate(response.AlarmHistoryItems or []):
            item_at = f"{at}.AlarmHistoryItems[{j}]"
            item = read(HistoryItem, raw_item, item_at, error=ReplayError)
            if item.HistoryItemType != STATE_UPDATE:
                other[item.HistoryItemType] += 1
            elif item.AlarmType != METRIC_ALARM:
                other[f"{item.AlarmType} state updates"] += 1
            else:
                items.append(_state_change(item, item_at))
        for j, raw_alarm in enumerate(response.MetricAlarms or []):
            alarm = read(MetricAlarm, raw_alarm, f"{at}.MetricAlarms[{j}]", error=ReplayError)
            alarms[alarm.AlarmName] = alarm
        if response.Tags is not None:
            if not response.ResourceARN:
                raise ReplayError(
                    f"{at}.ResourceARN: required with Tags (the alarm the tags were read for)"
                )
            tag_answers.append((response.ResourceARN, response.Tags, at))
    by_arn = {alarm.AlarmArn: name for name, alarm in alarms.items() if alarm.AlarmArn}
    tags: dict[str, dict[str, str]] = {}
    for arn, pairs, at in tag_answers:
        name = _name_of(arn, by_arn)
        if name is None:
            raise ReplayError(f"{at}.ResourceARN: not a CloudWatch alarm ARN: {arn!r}")
        tags[name] = {tag.Key: tag.Value for tag in pairs}
    return Parsed(items=items, alarms=alarms, tags=tags, other_items=dict(other))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def select(
    parsed: Parsed,
    *,
    source: str,
    start: datetime | None = None,
    end: datetime | None = None,
    alarm_pattern: str | None = None,
) -> History:
    """The changes within [start, end] of the alarms matching `alarm_pattern` (a regular
    expression searched in the name), oldest first, each counted once; ReplayError when
    nothing is left to replay."""
    try:
        matcher = re.compile(alarm_pattern) if alarm_pattern else None
    except re.error as exc:
        raise ReplayError(f"--alarm: invalid regular expression {alarm_pattern!r}: {exc}") from None
    notes: list[str] = []
    if parsed.other_items:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(parsed.other_items.items()))
        total = sum(parsed.other_items.values())
        notes.append(f"{_plural(total, 'history item')} not replayed ({kinds})")
    # Oldest first; CloudWatch answers newest first unless asked otherwise, and a stable sort
    # keeps two changes of one alarm at the same millisecond in the order CloudWatch gave.
    ordered = parsed.items if _ascending(parsed.items) else list(reversed(parsed.items))
    ordered = sorted(ordered, key=lambda change: change.at)
    outside = unmatched = duplicates = unchanged = 0
    seen: set[tuple[str, datetime, str, str]] = set()
    changes: list[StateChange] = []
    states: dict[str, State] = {}
    initial: dict[str, State] = {}
    for change in ordered:
        if (start and change.at < start) or (end and change.at > end):
            outside += 1
            continue
        if matcher and not matcher.search(change.alarm):
            unmatched += 1
            continue
        identity = (change.alarm, change.at, change.old, change.new)
        if identity in seen:
            duplicates += 1
            continue
        seen.add(identity)
        current = states.get(change.alarm)
        if current is None:
            initial[change.alarm] = current = change.old
        if change.new == current:
            unchanged += 1
            continue
        states[change.alarm] = change.new
        changes.append(change)
    if outside:
        notes.append(f"{_plural(outside, 'state change')} outside the window")
    if unmatched:
        notes.append(f"{_plural(unmatched, 'state change')} of alarms not matching --alarm")
    if duplicates:
        notes.append(f"{_plural(duplicates, 'duplicate history item')} counted once")
    if unchanged:
        notes.append(
            f"{_plural(unchanged, 'state change')} to the state the alarm already had: "
            "no change to replay"
        )
    if not changes:
        window = f" between {start} and {end}" if start or end else ""
        which = f" of alarms matching {alarm_pattern!r}" if alarm_pattern else ""
        raise ReplayError(f"no alarm state changes to replay in {source}{window}{which}")
    names = set(initial)
    for name in sorted(names - set(parsed.alarms)):
        notes.append(
            f"alarm {name}: no configuration in the input (deleted, or DescribeAlarms not "
            "saved); replayed without its metric, so it folds on no resource and takes no "
            "namespace severity"
        )
    return History(
        changes=changes,
        alarms={name: alarm for name, alarm in parsed.alarms.items() if name in names},
        tags={name: tags for name, tags in parsed.tags.items() if name in names},
        initial=initial,
        notes=notes,
        source=source,
    )


def _ascending(items: list[StateChange]) -> bool:
    """Whether the responses list oldest first (ScanBy=TimestampAscending)."""
    return not items or items[0].at <= items[-1].at


def responses_json(responses: list[Any]) -> str:
    """The responses as the file `--save` writes (datetimes as ISO-8601)."""
    return json.dumps(responses, indent=1, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _aware(value).isoformat(timespec="milliseconds")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
