"""Build the CDK app: context, settings, environment, synthesizer and cdk-nag.

Context precedence, highest first:
1. what the CDK CLI or the caller passes (``CDK_CONTEXT_JSON``, ``cdk -c``, ``context=``);
2. cdk.json's ``context`` (read here, so ``python app.py`` without the CLI behaves the same);
3. the defaults in stacks/settings.py (equal to cdk.json's).
The ``incident-runbook`` object is merged key by key: ``{"local": true}`` from the emulator keeps
every other setting from cdk.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, DefaultStackSynthesizer, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.incident_runbook_stack import REPO_ROOT, STACK_NAME, IncidentRunbookStack
from stacks.settings import CONTEXT_KEY, Settings

CDK_JSON = REPO_ROOT / "cdk.json"
# Used only when neither context nor CDK_DEFAULT_* name an environment, so that synthesis never
# needs credentials (the local emulator's account is moto's default, 123456789012).
FALLBACK_ACCOUNT = "123456789012"
FALLBACK_REGION = "us-east-1"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` object of cdk.json (empty if the file is missing)."""
    if not path.is_file():
        return {}
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    if not isinstance(context, dict):
        raise TypeError(f"{path}: 'context' must be a JSON object")
    return context


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, Mapping):
        raise TypeError(f"context key {CONTEXT_KEY!r} must be a JSON object")
    return value


def resolve_settings(app: App, defaults: Mapping[str, Any]) -> Settings:
    """cdk.json's settings object overlaid with the (CLI/caller) context's, then validated."""
    documented = _as_mapping(defaults.get(CONTEXT_KEY)) or {}
    given = _as_mapping(app.node.try_get_context(CONTEXT_KEY)) or {}
    return Settings.from_context({**documented, **given})


def resolve_environment(app: App) -> Environment:
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    return Environment(
        account=str(account or FALLBACK_ACCOUNT), region=str(region or FALLBACK_REGION)
    )


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    cdk_json: Path = CDK_JSON,
) -> tuple[App, IncidentRunbookStack]:
    """The app with its one stack and cdk-nag registered; call ``app.synth()`` to check and
    write it. ``context`` plays the role of ``CDK_CONTEXT_JSON`` (it wins over cdk.json)."""
    defaults = cdk_json_context(cdk_json)
    # App(context=...) has lower precedence than CDK_CONTEXT_JSON, so cdk.json only fills gaps.
    app_context = {**defaults, **(context or {})}
    app = App(context=app_context, outdir=outdir)
    settings = resolve_settings(app, defaults)
    synthesizer = (
        # The emulator has no CDK bootstrap stack: no bootstrap-version SSM parameter/rule.
        # Assets still go to the standard bootstrap bucket name, which the emulator creates.
        DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
        if settings.local
        else DefaultStackSynthesizer()
    )
    stack = IncidentRunbookStack(
        app,
        STACK_NAME,
        settings=settings,
        env=resolve_environment(app),
        synthesizer=synthesizer,
        description="Incident Runbook: serverless incident response (Step Functions + Lambda)",
    )
    # Synthesis fails on any finding that is not acknowledged (with a reason) in the stack.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
