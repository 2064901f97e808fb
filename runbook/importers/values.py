"""How the file writes durations and instants, and how an ARN names its resource."""

from __future__ import annotations

from datetime import UTC, datetime


def minutes_text(minutes: int) -> str:
    """A duration in the file's notation: 0m, 5m, 1h, 1h30m."""
    hours, rest = divmod(int(minutes), 60)
    if hours and rest:
        return f"{hours}h{rest}m"
    return f"{hours}h" if hours else f"{rest}m"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def arn_tail(arn: str) -> str:
    """The resource part after the last `/`: a contact's alias, a plan's name."""
    return arn.rsplit("/", 1)[-1]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
