"""Who was paged through which channel: every SNS delivery to a person, observable locally.

Paging a person (issue 13) publishes to that person's SNS topic, which has an ``sms`` and an
``email`` subscription with a filter policy on the message attribute ``channel``, so one Publish
reaches one channel. moto 5.2.5 applies the filter policy (MessageAttributes scope, and
MessageBody) before it delivers, for every protocol, but then drops sms, email and email-json
deliveries on the floor and posts http/https ones synchronously, with no timeout, failing the
Publish when the endpoint is unreachable.

``Deliveries`` wraps moto's per-subscription delivery: a delivery that passes the filter policy
to an ``sms``, ``email``, ``email-json``, ``http`` or ``https`` endpoint is recorded (time,
topic, subscription, protocol, endpoint, subject, message as that protocol receives it,
attributes, message id) as a JSON line in ``logs/deliveries.log`` and in memory
(``emulator.deliveries(...)``). http/https endpoints still get the notification POSTed, on a
thread with a timeout, so a dead endpoint costs nothing but a log line. A Publish with a
``PhoneNumber`` (a direct SMS, no topic) is recorded too. Other protocols (sqs, lambda,
application) are delivered by moto and the emulator exactly as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from moto.sns.models import SNSBackend, Subscription

from runbook.local.jsonlog import JsonLog

LOGGER = logging.getLogger(__name__)
RECORDED_PROTOCOLS = ("sms", "email", "email-json", "http", "https")
POST_TIMEOUT_SECONDS = 5.0


class Deliveries:
    """The record of deliveries to people (and web hooks), newest last."""

    def __init__(self, log_file: Path | None = None) -> None:
        self.log = JsonLog(log_file)
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> dict[str, Any]:
        entry = self.log.write(**fields)
        with self._lock:
            self._entries.append(entry)
        return entry

    def __call__(
        self,
        topic: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]:
        """The deliveries so far, optionally only to one topic, protocol or endpoint."""
        with self._lock:
            entries = list(self._entries)
        return [
            entry
            for entry in entries
            if (topic is None or entry["topic"] == topic)
            and (protocol is None or entry["protocol"] == protocol)
            and (endpoint is None or entry["endpoint"] == endpoint)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _attributes(message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Message attributes as SNS notifications show them: name -> {Type, Value}."""
    return {
        name: {"Type": value.get("Type"), "Value": value.get("Value")}
        for name, value in (message_attributes or {}).items()
    }


def _post(subscription: Subscription, message: str, message_id: str, subject: str | None) -> None:
    """POST the notification as moto would, off the Publish's thread and with a timeout."""
    data = subscription.get_post_data(message, message_id, subject)

    def send() -> None:
        try:
            requests.post(
                subscription.endpoint,
                json=data,
                headers={"Content-Type": "text/plain; charset=UTF-8"},
                timeout=POST_TIMEOUT_SECONDS,
            )
        except requests.RequestException as err:  # SNS would retry per its delivery policy
            LOGGER.warning("SNS delivery to %s failed: %s", subscription.endpoint, err)

    threading.Thread(target=send, name="sns-http-delivery", daemon=True).start()


_original_subscription_publish = Subscription.publish
_original_backend_publish = SNSBackend.publish
_active: Deliveries | None = None


def _subscription_publish(
    self: Subscription,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    recorder = _active
    if recorder is None or self.protocol not in RECORDED_PROTOCOLS:
        _original_subscription_publish(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    recorder.record(
        topic=self.topic.arn,
        subscription=self.arn,
        protocol=self.protocol,
        endpoint=self.endpoint,
        subject=subject,
        message=message,
        attributes=_attributes(message_attributes),
        message_id=message_id,
    )
    if self.protocol in ("http", "https"):
        _post(self, message, message_id, subject)


def _backend_publish(
    self: SNSBackend, message: str, arn: str | None, *args: Any, **kwargs: Any
) -> str:
    message_id: str = _original_backend_publish(self, message, arn, *args, **kwargs)
    phone_number = kwargs.get("phone_number") or (args[0] if args else None)
    recorder = _active
    if recorder is not None and phone_number:
        recorder.record(
            topic=None,
            subscription=None,
            protocol="sms",
            endpoint=phone_number,
            subject=kwargs.get("subject"),
            message=message,
            attributes=_attributes(kwargs.get("message_attributes")),
            message_id=message_id,
        )
    return message_id


def install_deliveries(recorder: Deliveries) -> Callable[[], None]:
    """Record deliveries from now on (one emulator per process); returns the undo."""
    global _active
    _active = recorder
    Subscription.publish = _subscription_publish  # type: ignore[method-assign]
    SNSBackend.publish = _backend_publish  # type: ignore[method-assign]
    return remove_deliveries


def remove_deliveries() -> None:
    global _active
    _active = None
    Subscription.publish = _original_subscription_publish  # type: ignore[method-assign]
    SNSBackend.publish = _original_backend_publish  # type: ignore[method-assign]
