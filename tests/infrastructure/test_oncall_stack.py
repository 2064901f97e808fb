"""The people side of the stack with a declaration (examples/incident-response.yaml): a topic
per contact (`<stack>-contact-<id>`, KMS, SSL only) with one subscription per SMS/email channel
filtered on `channel`, no SNS subscription for Slack ids, publishing granted to exactly those
topics, the compiled declaration shipped as a file asset, cdk-nag clean (synth raises else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import synth_template

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "incident-response.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_template(tmp_path_factory.mktemp("cdk.out.oncall"), {"responseFile": str(EXAMPLE)})


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_every_contact_has_its_own_encrypted_topic(template: dict[str, Any]) -> None:
    declared = yaml.safe_load(EXAMPLE.read_text())["contacts"]
    topics = {
        t["Properties"].get("TopicName"): t for t in _of(template, "AWS::SNS::Topic").values()
    }
    for contact in declared:
        topic = topics[f"IncidentRunbook-contact-{contact}"]
        assert "KmsMasterKeyId" in topic["Properties"], contact


def test_one_filtered_subscription_per_sms_and_email_channel(template: dict[str, Any]) -> None:
    declared = yaml.safe_load(EXAMPLE.read_text())["contacts"]
    expected = sorted(
        (channel.get("name", channel["type"]), channel["type"], channel["address"])
        for contact in declared.values()
        for channel in contact["channels"]
        if channel["type"] != "slack"
    )
    found = sorted(
        (
            json.loads(json.dumps(s["Properties"]["FilterPolicy"]))["channel"][0],
            s["Properties"]["Protocol"],
            s["Properties"]["Endpoint"],
        )
        for s in _of(template, "AWS::SNS::Subscription").values()
    )
    assert found == expected


def test_engage_and_escalate_publish_to_the_contact_topics_only(template: dict[str, Any]) -> None:
    contact_topics = {
        k
        for k, t in _of(template, "AWS::SNS::Topic").items()
        if str(t["Properties"].get("TopicName", "")).startswith("IncidentRunbook-contact-")
    }
    for logical_id, policy in _of(template, "AWS::IAM::Policy").items():
        published = {
            r["Ref"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if "sns:Publish" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
            if isinstance(r, dict) and "Ref" in r
        }
        reaching = published & contact_topics
        if "EngageResponders" in logical_id or "Escalate" in logical_id:
            assert reaching == contact_topics, logical_id
        else:
            assert not reaching, logical_id


def test_the_compiled_declaration_is_a_file_asset(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    uri = json.dumps(outputs["ResponseConfigUri"]["Value"])
    assert "s3://" in uri and ".json" in uri
