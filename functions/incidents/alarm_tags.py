"""An alarm's tags (ListTagsForResource): the `Severity` tag is a classification hint.

Cached per alarm for a few minutes in the execution environment, so an alarm storm through
ingest costs one CloudWatch call per alarm rather than one per delivery.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared import aws
from shared.errors import error_code, reraise_transient
from shared.observability import logger

if TYPE_CHECKING:
    from incidents.signal import Signal

CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, dict[str, str]]] = {}
_lock = threading.Lock()


def alarm_tags(signal: Signal, *, cached: bool = False) -> dict[str, str]:
    """The alarm's tags; none if the signal is not an alarm or its tags cannot be read."""
    if not signal.alarm_arn:
        return {}
    if cached:
        with _lock:
            hit = _cache.get(signal.alarm_arn)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return dict(hit[1])
    cloudwatch = aws.client("cloudwatch", account=signal.account, region=signal.region)
    try:
        listed = cloudwatch.list_tags_for_resource(ResourceARN=signal.alarm_arn)["Tags"]
    except ClientError as exc:
        reraise_transient(exc, "CloudWatch ListTagsForResource")
        logger.warning("cannot read alarm tags", extra={"code": error_code(exc)})
        return {}
    tags = {t["Key"]: t["Value"] for t in listed}
    with _lock:
        _cache[signal.alarm_arn] = (time.monotonic(), tags)
    return tags


def clear_cache() -> None:
    """Forget cached tags (tests)."""
    with _lock:
        _cache.clear()
