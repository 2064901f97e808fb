"""Incident Manager's contacts, rotations, escalation and response plans -> the declaration file
(docs/oncall.md), plus the future rotation overrides (they live in DynamoDB here, not in the
file) and one note per thing that could not be carried over as it was.

Pure: it reads an `Account` (what the APIs returned) and never calls AWS, so every edge case is
a unit test. The side-by-side table of what maps to what is docs/migrate-from-incident-manager.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runbook.importers import rotations
from runbook.importers.contacts import map_contact
from runbook.importers.escalation import LAST_STAGE_MINUTES, Timeline, merge
from runbook.importers.ids import IdSpace
from runbook.importers.incident_manager import Account, as_datetime
from runbook.importers.notes import Notes
from runbook.importers.triggers import alarm_name_regex, alarm_names_in, alarms_naming
from runbook.importers.values import arn_tail, minutes_text, plural, utc_text

SEVERITY_BY_IMPACT = {1: "critical", 2: "high", 3: "standard", 4: "standard", 5: "standard"}
DEFAULT_PLAN = "default"
NEVER_MATCHES = "^$"  # no alarm has an empty name: a plan with it waits for a hand-written match


@dataclass
class Imported:
    document: dict[str, Any]
    overrides: list[dict[str, str]]
    notes: Notes
    account_id: str | None


class _Mapper:
    def __init__(self, account: Account, now: datetime) -> None:
        self.account = account
        self.now = now
        self.notes = Notes()
        self.by_arn = {str(c["ContactArn"]): c for c in account.contacts}
        self.contact_ids: dict[str, str] = {}  # carried PERSONAL contact ARN -> id
        self.rotation_ids: dict[str, str] = {}  # carried rotation ARN -> id
        self.rotation_names = {str(r["RotationArn"]): str(r["Name"]) for r in account.rotations}
        self.escalation_ids: dict[str, str] = {}  # carried ESCALATION contact ARN -> id
        self.timelines: dict[str, Timeline] = {}
        self.channel_owner = {
            str(ch["ContactChannelArn"]): arn
            for arn, channels in account.channels.items()
            for ch in channels
        }
        self.contact_space = IdSpace("contact")
        self.rotation_space = IdSpace("rotation")
        self.escalation_space = IdSpace("escalation")
        self.plan_space = IdSpace("plan", reserved=(DEFAULT_PLAN,))
        self.escalation_out: dict[str, Any] = {}  # escalationPlans, by id

    def _of_type(self, kind: str) -> list[dict[str, Any]]:
        found = [c for c in self.account.contacts if c.get("Type") == kind]
        return sorted(found, key=lambda c: str(c["Alias"]))

    def _alias(self, arn: str) -> str:
        contact = self.by_arn.get(arn)
        return str(contact["Alias"]) if contact else arn_tail(arn)

    def _renamed(self, subject: str, original: str, new: str) -> None:
        if new != original:
            self.notes.renamed(subject, f"{original!r} is {new!r} here")

    # -- contacts ------------------------------------------------------------------------
    def contacts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        retrying = []
        for contact in self._of_type("PERSONAL"):
            arn = str(contact["ContactArn"])
            mapped = map_contact(contact, self.account.channels.get(arn, []), self.notes)
            if mapped.retries:
                retrying.append(str(contact["Alias"]))
            if mapped.entry is None:
                continue
            cid = self.contact_space.assign(str(contact["Alias"]))
            self._renamed(f"contact {contact['Alias']}", str(contact["Alias"]), cid)
            self.contact_ids[arn] = cid
            out[cid] = mapped.entry
        if retrying:
            self.notes.not_carried(
                f"contact{'s' if len(retrying) > 1 else ''} {', '.join(sorted(retrying))}",
                "RetryIntervalInMinutes (re-send a page that failed to be delivered): here a "
                "channel is paged once",
            )
        return dict(sorted(out.items()))

    # -- rotations -----------------------------------------------------------------------
    def rotations(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ordered = sorted(self.account.rotations, key=lambda r: (str(r["Name"]), r["RotationArn"]))
        for rotation in ordered:
            entry = self._rotation(rotation)
            if entry is None:
                continue
            rid = self.rotation_space.assign(str(rotation["Name"]))
            self._renamed(f"rotation {rotation['Name']}", str(rotation["Name"]), rid)
            self.rotation_ids[str(rotation["RotationArn"])] = rid
            out[rid] = entry
        return dict(sorted(out.items()))

    def _rotation(self, rotation: dict[str, Any]) -> dict[str, Any] | None:
        name = str(rotation["Name"])
        subject = f"rotation {name}"
        members = []
        for arn in rotation.get("ContactIds") or []:
            if arn in self.contact_ids:
                members.append(self.contact_ids[arn])
            else:
                self.notes.not_carried(
                    subject,
                    f"participant {self._alias(arn)} is not carried over: left out of the order",
                )
        if not members:
            self.notes.not_carried(subject, "no participant could be carried over: left out")
            return None
        zone_name = str(rotation.get("TimeZoneId") or "")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.notes.not_carried(subject, f"time zone {zone_name!r} is not an IANA zone")
            return None
        recurrence = rotation.get("Recurrence") or {}
        try:
            timing = rotations.timing(
                recurrence, as_datetime(rotation["StartTime"]), zone, self.now
            )
        except rotations.UnsupportedRecurrence as why:
            self.notes.not_carried(subject, f"{why}: left out")
            return None
        for said in timing.approximations:
            self.notes.approximated(subject, said)
        entry: dict[str, Any] = {
            "name": name,
            "timezone": zone_name,
            "participants": members,
            "start": timing.start,
            "shift": timing.shift,
        }
        on_call = int(recurrence.get("NumberOfOnCalls") or 1)
        if on_call != 1:
            entry["onCall"] = on_call
        if on_call > len(members):
            self.notes.review(
                subject, f"{on_call} on call at once but only {len(members)} participants"
            )
        if timing.working_hours:
            entry["workingHours"] = timing.working_hours
        return entry

    # -- escalation plans ----------------------------------------------------------------
    def _resolve(self, arn: str, subject: str, where: str) -> list[dict[str, str]]:
        """One engaged contact -> file targets: a person, or an on-call schedule's rotations."""
        contact = self.by_arn.get(arn)
        if contact is None:
            self.notes.not_carried(
                subject, f"{where} engages {arn_tail(arn)}, which is not among the contacts read"
            )
            return []
        alias, kind = str(contact["Alias"]), contact.get("Type")
        if kind == "PERSONAL":
            if arn in self.contact_ids:
                return [{"contact": self.contact_ids[arn]}]
            self.notes.not_carried(subject, f"{where}: contact {alias} is not carried over")
            return []
        if kind == "ONCALL_SCHEDULE":
            rotation_arns = (contact.get("Plan") or {}).get("RotationIds") or []
            if not rotation_arns:
                self.notes.not_carried(
                    subject, f"{where}: on-call schedule {alias} has no rotation"
                )
            out = []
            for rotation in rotation_arns:
                if rotation in self.rotation_ids:
                    out.append({"rotation": self.rotation_ids[rotation]})
                else:
                    name = self.rotation_names.get(rotation, arn_tail(rotation))
                    self.notes.not_carried(
                        subject,
                        f"{where}: rotation {name} of on-call schedule {alias} is not carried over",
                    )
            return out
        self.notes.not_carried(
            subject,
            f"{where} engages escalation plan {alias}: a stage engages people and rotations "
            "here, not other plans",
        )
        return []

    def _stage_targets(
        self, subject: str, number: int, targets: list[dict[str, Any]]
    ) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for target in targets:
            info = target.get("ContactTargetInfo")
            channel_info = target.get("ChannelTargetInfo")
            if info is None and channel_info is not None:
                owner = self.channel_owner.get(str(channel_info["ContactChannelId"]))
                if owner in self.contact_ids:
                    self.notes.approximated(
                        subject,
                        f"stage {number} pages one channel of {self._alias(owner)}: here the "
                        "contact is engaged through its engagement plan",
                    )
                    out.append({"contact": self.contact_ids[owner]})
                else:
                    self.notes.not_carried(
                        subject, f"stage {number} pages a channel that is not carried over"
                    )
                continue
            if info is None or not info.get("ContactId"):
                continue
            out.extend(self._resolve(str(info["ContactId"]), subject, f"stage {number}"))
        return out

    def escalation_plans(self) -> None:
        """ESCALATION contacts -> escalationPlans (response plans may add more)."""
        for contact in self._of_type("ESCALATION"):
            alias, arn = str(contact["Alias"]), str(contact["ContactArn"])
            subject = f"escalation plan {alias}"
            timeline = Timeline()
            not_essential = False
            for number, stage in enumerate((contact.get("Plan") or {}).get("Stages") or [], 1):
                targets = stage.get("Targets") or []
                not_essential = not_essential or any(
                    (t.get("ContactTargetInfo") or {}).get("IsEssential") is False for t in targets
                )
                resolved = self._stage_targets(subject, number, targets)
                timeline.stages.append((int(stage.get("DurationInMinutes") or 0), resolved))
            if not_essential:
                self.notes.not_carried(
                    subject,
                    "targets marked not essential (IsEssential false: their acknowledgement "
                    "did not stop the plan): here anyone's acknowledgement stops it",
                )
            stages = merge([timeline], subject, self.notes)
            if not stages:
                self.notes.not_carried(subject, "no stage has a target carried over: left out")
                continue
            eid = self.escalation_space.assign(alias)
            self._renamed(subject, alias, eid)
            self.escalation_ids[arn] = eid
            self.timelines[arn] = timeline
            self.escalation_out[eid] = {"stages": stages}

    # -- response plans ------------------------------------------------------------------
    def _plan_escalation(self, plan: dict[str, Any], pid: str, subject: str) -> str | None:
        engagements = sorted(str(e) for e in plan.get("engagements") or [])
        if not engagements:
            self.notes.review(subject, "engages nobody: here it pages the severity topics only")
            return None
        if len(engagements) == 1 and engagements[0] in self.escalation_ids:
            return self.escalation_ids[engagements[0]]
        timelines: list[Timeline] = []
        direct = []
        for arn in engagements:
            contact = self.by_arn.get(arn)
            if contact is not None and contact.get("Type") == "ESCALATION":
                if arn in self.timelines:
                    timelines.append(self.timelines[arn])
                else:
                    self.notes.not_carried(
                        subject, f"its escalation plan {contact['Alias']} is not carried over"
                    )
                continue
            targets = self._resolve(arn, subject, "engagement")
            if targets:
                direct.append(self._alias(arn))
                timelines.append(Timeline([(LAST_STAGE_MINUTES, targets)]))
        stages = merge(timelines, subject, self.notes)
        if not stages:
            self.notes.not_carried(subject, "nobody it engages is carried over")
            return None
        eid = self.escalation_space.assign(pid)
        self.escalation_out[eid] = {"stages": stages}
        if direct:
            self.notes.review(
                subject,
                f"engages {', '.join(direct)} directly: here escalation plan {eid}, whose "
                f"stage lasts {minutes_text(LAST_STAGE_MINUTES)} before the escalation topic "
                "is paged",
            )
        if len(engagements) > 1:
            self.notes.approximated(
                subject,
                f"its {len(engagements)} engagements run side by side as escalation plan "
                f"{eid}: one acknowledgement stops all of it",
            )
        return eid

    def _rule_names(self, plan: dict[str, Any], subject: str) -> tuple[list[str], list[str]]:
        """Alarm names (exact, prefix) from EventBridge rules that target the plan."""
        exact: list[str] = []
        prefixes: list[str] = []
        for rule in (self.account.rules or {}).get(str(plan["arn"]), []):
            name = str(rule.get("Name"))
            if rule.get("State") not in (None, "ENABLED"):
                continue
            names = alarm_names_in(rule.get("EventPattern"))
            if names is None:
                self.notes.review(
                    subject,
                    f"EventBridge rule {name} starts it with a pattern that is not a list of "
                    "alarm names: write its match by hand",
                )
                continue
            exact.extend(names[0])
            prefixes.extend(names[1])
        return exact, prefixes

    def response_plans(self) -> list[dict[str, Any]]:
        matched: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        claimed: dict[str, list[str]] = {}
        for plan in sorted(self.account.response_plans, key=lambda p: str(p["name"])):
            name = str(plan["name"])
            subject = f"response plan {name}"
            pid = self.plan_space.assign(name)
            self._renamed(subject, name, pid)
            entry: dict[str, Any] = {"id": pid}
            exact = alarms_naming(self.account.alarms or [], str(plan["arn"]), name)
            rule_exact, prefixes = self._rule_names(plan, subject)
            exact += rule_exact
            for alarm in exact:
                claimed.setdefault(alarm, []).append(pid)
            if exact or prefixes:
                entry["match"] = {"alarmName": alarm_name_regex(exact, prefixes)}
            else:
                entry["match"] = {"alarmName": NEVER_MATCHES}
                self.notes.review(subject, self._unmatched_reason())
            escalation = self._plan_escalation(plan, pid, subject)
            if escalation:
                entry["escalationPlan"] = escalation
            impact = int((plan.get("incidentTemplate") or {}).get("impact") or 3)
            entry["severity"] = SEVERITY_BY_IMPACT.get(impact, "standard")
            self._plan_losses(plan, subject)
            (matched if exact or prefixes else waiting).append(entry)
        for alarm, plans in sorted(claimed.items()):
            if len(plans) > 1:
                self.notes.approximated(
                    f"alarm {alarm}",
                    f"starts response plans {', '.join(plans)} in Incident Manager (one "
                    f"incident each): here one incident, with the first that matches, {plans[0]}",
                )
        if self.account.response_plans and self.account.rules is None:
            self.notes.review(
                "EventBridge rules",
                f"could not be read ({self.account.rules_unavailable or 'not read'}): rules "
                "that start a response plan are not in any match; see `aws events "
                "list-rule-names-by-target --target-arn RESPONSE_PLAN_ARN`",
            )
        self.notes.review(
            f"response plan {DEFAULT_PLAN}",
            "added for incidents no plan matches (Incident Manager opened none for them): it "
            "pages the severity topics as before; give it an escalationPlan to page people",
        )
        ordered = sorted(matched, key=lambda e: str(e["id"])) + sorted(
            waiting, key=lambda e: str(e["id"])
        )
        return [*ordered, {"id": DEFAULT_PLAN}]

    def _unmatched_reason(self) -> str:
        if self.account.alarms is None:
            why = self.account.alarms_unavailable or "not read"
            return (
                f"CloudWatch alarms could not be read ({why}): write its match by hand (it "
                "matches nothing until then)"
            )
        return (
            "no CloudWatch alarm or EventBridge rule read starts it: write its match by hand "
            "(it matches nothing until then)"
        )

    def _plan_losses(self, plan: dict[str, Any], subject: str) -> None:
        chat = plan.get("chatChannel") or {}
        if chat.get("chatbotSns"):
            self.notes.not_carried(
                subject,
                "chat channel through AWS Chatbot: here the runbook opens a Slack channel per "
                "incident; add slackResponders (Slack user ids) to invite people to it",
            )
        for action in plan.get("actions") or []:
            automation = action.get("ssmAutomation")
            if automation:
                self.notes.not_carried(
                    subject,
                    f"runs SSM Automation runbook {automation.get('documentName')}: no "
                    "remediation actions here yet",
                )
        for integration in plan.get("integrations") or []:
            if integration.get("pagerDutyConfiguration"):
                self.notes.not_carried(subject, "PagerDuty integration: no PagerDuty here")
        template = plan.get("incidentTemplate") or {}
        if template.get("notificationTargets"):
            self.notes.not_carried(
                subject,
                "incident notifications to SNS topics: here the runbook pages its own topics "
                "and people; subscribe to PagingTopicArn for the same",
            )
        if template.get("dedupeString"):
            self.notes.not_carried(
                subject, "dedupe string: here incidents are correlated by alarm and resources"
            )
        if template.get("incidentTags"):
            self.notes.not_carried(subject, "tags of the incidents it opens")

    # -- overrides -----------------------------------------------------------------------
    def overrides(self) -> list[dict[str, str]]:
        out = []
        for arn, found in sorted(self.account.overrides.items()):
            name = self.rotation_names.get(arn, arn_tail(arn))
            subject = f"rotation {name}"
            future = [o for o in found if as_datetime(o["EndTime"]) > self.now]
            if arn not in self.rotation_ids:
                if future:
                    self.notes.not_carried(
                        subject,
                        f"{plural(len(future), 'future override')}: the rotation is left out",
                    )
                continue
            for override in future:
                start, end = as_datetime(override["StartTime"]), as_datetime(override["EndTime"])
                span = f"override {utc_text(start)} .. {utc_text(end)}"
                listed = override["NewContactIds"]
                new = [self.contact_ids[c] for c in listed if c in self.contact_ids]
                if not new:
                    self.notes.not_carried(subject, f"{span}: no contact of it is carried over")
                    continue
                if len(listed) > 1:
                    self.notes.not_carried(
                        subject,
                        f"{span} puts {len(listed)} contacts on call: an "
                        f"override here has one contact, {new[0]}",
                    )
                out.append(
                    {
                        "rotation": self.rotation_ids[arn],
                        "contact": new[0],
                        "start": utc_text(start),
                        "end": utc_text(end),
                        "incidentManagerId": str(override["RotationOverrideId"]),
                    }
                )
        return sorted(out, key=lambda o: (o["rotation"], o["start"], o["contact"]))

    def timezone(self, rotations_out: dict[str, Any]) -> str:
        zones = Counter(str(r["timezone"]) for r in rotations_out.values())
        if not zones:
            return "UTC"
        return sorted(zones.items(), key=lambda item: (-item[1], item[0]))[0][0]


def map_account(account: Account, *, now: datetime) -> Imported:
    """The file's document (sections in the documented order), the overrides, the notes."""
    mapper = _Mapper(account, now)
    contacts = mapper.contacts()
    rotations_out = mapper.rotations()
    mapper.escalation_plans()
    plans = mapper.response_plans()  # may add escalation plans for direct engagements
    document: dict[str, Any] = {"version": 1, "timezone": mapper.timezone(rotations_out)}
    if contacts:
        document["contacts"] = contacts
    if rotations_out:
        document["rotations"] = rotations_out
    if mapper.escalation_out:
        document["escalationPlans"] = dict(sorted(mapper.escalation_out.items()))
    document["responsePlans"] = plans
    arns = [str(c["ContactArn"]) for c in account.contacts] + [
        str(p["arn"]) for p in account.response_plans
    ]
    account_id = next((a.split(":")[4] for a in arns if len(a.split(":")) > 5), None)
    return Imported(document, mapper.overrides(), mapper.notes, account_id)
