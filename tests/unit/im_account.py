"""A builder of Incident Manager accounts as the APIs return them (runbook.importers'
`Account`), for the mapping's unit tests: each method adds one resource and returns its ARN."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from runbook.importers.incident_manager import Account
from runbook.importers.mapping import Imported, map_account
from runbook.importers.yaml_writer import render
from tests.oncall_declaration import problems

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACCOUNT = "123456789012"
CONTACTS = f"arn:aws:ssm-contacts:us-east-1:{ACCOUNT}"
INCIDENTS = f"arn:aws:ssm-incidents::{ACCOUNT}"


def hm(hour: int, minute: int = 0) -> dict[str, int]:
    return {"HourOfDay": hour, "MinuteOfHour": minute}


@dataclass
class Builder:
    account: Account = field(default_factory=lambda: Account(where="test"))
    _n: int = 0

    def _uid(self) -> str:
        self._n += 1
        return f"{self._n:08d}-0000-4000-8000-000000000000"

    def personal(
        self,
        alias: str,
        channels: list[tuple[str, str, str]] | None = None,
        stages: list[tuple[int, list[str]]] | None = None,
        *,
        display: str | None = None,
        activation: dict[str, str] | None = None,
        retry: int | None = None,
    ) -> str:
        """channels: (name, TYPE, address); stages: (minutes, [channel names])."""
        arn = f"{CONTACTS}:contact/{alias}"
        listed, by_name = [], {}
        for name, typ, address in (
            channels if channels is not None else [("mail", "EMAIL", f"{alias}@example.com")]
        ):
            channel_arn = f"{CONTACTS}:contact-channel/{alias}/{self._uid()}"
            by_name[name] = channel_arn
            listed.append(
                {
                    "ActivationStatus": (activation or {}).get(name, "ACTIVATED"),
                    "ContactArn": arn,
                    "ContactChannelArn": channel_arn,
                    "DeliveryAddress": {"SimpleAddress": address},
                    "Name": name,
                    "Type": typ,
                }
            )
        plan_stages = []
        for minutes, names in stages if stages is not None else [(0, list(by_name))]:
            targets = []
            for name in names:
                info: dict[str, Any] = {"ContactChannelId": by_name.get(name, name)}
                if retry is not None:
                    info["RetryIntervalInMinutes"] = retry
                targets.append({"ChannelTargetInfo": info})
            plan_stages.append({"DurationInMinutes": minutes, "Targets": targets})
        self.account.contacts.append(
            {
                "Alias": alias,
                "ContactArn": arn,
                "DisplayName": display or alias.title(),
                "Type": "PERSONAL",
                "Plan": {"Stages": plan_stages},
            }
        )
        self.account.channels[arn] = listed
        return arn

    def escalation(self, alias: str, stages: list[tuple[int, list[Any]]]) -> str:
        """stages: (minutes, [contact ARN, or (contact ARN, is_essential)])."""
        arn = f"{CONTACTS}:contact/{alias}"
        plan = []
        for minutes, targets in stages:
            infos = []
            for t in targets:
                target, essential = t if isinstance(t, tuple) else (t, True)
                infos.append({"ContactTargetInfo": {"ContactId": target, "IsEssential": essential}})
            plan.append({"DurationInMinutes": minutes, "Targets": infos})
        self.account.contacts.append(
            {"Alias": alias, "ContactArn": arn, "Type": "ESCALATION", "Plan": {"Stages": plan}}
        )
        return arn

    def schedule(self, alias: str, rotations: list[str]) -> str:
        arn = f"{CONTACTS}:contact/{alias}"
        self.account.contacts.append(
            {
                "Alias": alias,
                "ContactArn": arn,
                "Type": "ONCALL_SCHEDULE",
                "Plan": {"Stages": [], "RotationIds": rotations},
            }
        )
        return arn

    def rotation(
        self,
        name: str,
        members: list[str],
        *,
        recurrence: dict[str, Any] | None = None,
        start: str = "2026-01-05T09:00:00+00:00",
        zone: str = "Europe/London",
        overrides: list[dict[str, Any]] | None = None,
    ) -> str:
        arn = f"{CONTACTS}:rotation/{self._uid()}"
        self.account.rotations.append(
            {
                "RotationArn": arn,
                "Name": name,
                "ContactIds": members,
                "StartTime": datetime.fromisoformat(start),
                "TimeZoneId": zone,
                "Recurrence": recurrence
                or {
                    "NumberOfOnCalls": 1,
                    "RecurrenceMultiplier": 1,
                    "WeeklySettings": [{"DayOfWeek": "MON", "HandOffTime": hm(9)}],
                },
            }
        )
        self.account.overrides[arn] = overrides or []
        return arn

    def plan(self, name: str, engagements: list[str], impact: int = 3, **extra: Any) -> str:
        arn = f"{INCIDENTS}:response-plan/{name}"
        template = {"impact": impact, "title": name, **extra.pop("template", {})}
        self.account.response_plans.append(
            {"arn": arn, "name": name, "engagements": engagements, "incidentTemplate": template}
            | extra
        )
        if self.account.alarms is None:
            self.account.alarms = []
        if self.account.rules is None:
            self.account.rules = {}
        return arn

    def alarm(self, name: str, *actions: str) -> None:
        assert self.account.alarms is not None, "add the plan first"
        self.account.alarms.append({"AlarmName": name, "AlarmActions": list(actions)})

    def rule(self, plan_arn: str, name: str, pattern: str, state: str = "ENABLED") -> None:
        assert self.account.rules is not None, "add the plan first"
        self.account.rules.setdefault(plan_arn, []).append(
            {"Name": name, "EventPattern": pattern, "State": state}
        )

    def build(self, now: datetime = NOW) -> Imported:
        return map_account(self.account, now=now)


def loaded(imported: Imported) -> dict[str, Any]:
    """The document as the loader will read it: rendered to YAML and parsed back, and valid."""
    text = render(imported.document, [n.line() for n in imported.notes.sorted()])
    document = yaml.safe_load(text)
    assert problems(document) == [], problems(document)
    assert document == imported.document
    return dict(document)


def lines(imported: Imported) -> list[str]:
    return [n.line() for n in imported.notes.sorted()]
