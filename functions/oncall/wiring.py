"""The on-call pieces a step needs, built from the environment: the declaration, the
overrides of its rotations, and the pager (per-contact SNS topics, Slack DMs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chat.direct import send_direct_message
from oncall.declaration import ResponseConfig
from oncall.overrides import OverrideStore
from oncall.paging import ContactPager
from oncall.rotation import Override
from oncall.source import response_config
from shared import aws
from shared.config import settings
from shared.observability import logger

__all__ = ["overrides_lookup", "pager", "response_config"]


def overrides_lookup(config: ResponseConfig, now: datetime) -> Any:
    """`rotation id -> overrides not ended at now`, read once per wake-up. An unreadable
    table is logged and treated as no overrides: the rotation's own schedule still pages."""
    cfg = settings()
    found: dict[str, list[Override]] = {}
    if cfg.oncall_table_name and config.rotations:
        try:
            store = OverrideStore(aws.dynamodb_table(cfg.oncall_table_name))
            found = store.for_rotations(config.rotations, at=now)
        except Exception as exc:  # overrides refine the schedule; losing them must not stop paging
            logger.warning("overrides unreadable", extra={"error": type(exc).__name__})

    def overrides_for(rotation: str) -> Sequence[Override]:
        return found.get(rotation, [])

    return overrides_for


def pager() -> ContactPager:
    """Publishes to `<CONTACT_TOPIC_PREFIX><contact id>`; Slack DMs when Slack is configured."""
    cfg = settings()
    prefix = cfg.contact_topic_prefix
    return ContactPager(
        aws.client("sns"),
        lambda contact: prefix + contact,
        send_direct_message if cfg.slack_secret_name else None,
    )
