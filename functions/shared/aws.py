"""The one place AWS clients are made.

Sessions are keyed by (account, region): the home account uses the execution role; a member
account is reached through a read-only role (DIAGNOSTICS_ROLE_NAME) with auto-refreshing
credentials, so a central operations account diagnosing member accounts is configuration.
Nothing is created at import time, so moto and the local emulator intercept every client;
boto3 itself honours AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session

from shared.config import settings

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="incident-runbook",
)

_lock = threading.Lock()
_sessions: dict[tuple[str | None, str | None], boto3.session.Session] = {}
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_home_account: list[str] = []


def default_region() -> str | None:
    """The region of this Lambda (AWS_REGION) or of the developer's configuration."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def home_account() -> str:
    """The account these functions run in (asked of STS once, then remembered)."""
    with _lock:
        if not _home_account:
            sts = boto3.session.Session().client("sts", config=_CLIENT_CONFIG)
            _home_account.append(sts.get_caller_identity()["Account"])
        return _home_account[0]


def _assume_role_session(account: str, region: str | None, role_name: str) -> boto3.Session:
    role_arn = f"arn:aws:iam::{account}:role/{role_name}"
    sts = boto3.session.Session().client("sts", region_name=region, config=_CLIENT_CONFIG)

    def refresh() -> dict[str, str]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="incident-runbook")["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    botocore_session = get_session()
    botocore_session._credentials = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
    )
    return boto3.session.Session(botocore_session=botocore_session, region_name=region)


def session(account: str | None = None, region: str | None = None) -> boto3.session.Session:
    """A boto3 session for (account, region); member accounts go through the assumed role."""
    region = region or default_region()
    role_name = settings().diagnostics_role_name
    cross_account = bool(account and role_name and account != home_account())
    key = (account if cross_account else None, region)
    with _lock:
        cached = _sessions.get(key)
        if cached is None:
            if cross_account:
                assert account is not None
                cached = _assume_role_session(account, region, role_name)
            else:
                cached = boto3.session.Session(region_name=region)
            _sessions[key] = cached
        return cached


def client(service: str, account: str | None = None, region: str | None = None) -> Any:
    """A cached, thread-safe boto3 client for `service` in (account, region)."""
    key = (service, account, region or default_region())
    with _lock:
        cached = _clients.get(key)
    if cached is not None:
        return cached
    made = session(account, region).client(service, config=_CLIENT_CONFIG)
    with _lock:
        return _clients.setdefault(key, made)


def dynamodb_table(name: str) -> Any:
    """A DynamoDB Table resource in the home account (resources are not cached: not thread-safe)."""
    return session().resource("dynamodb", config=_CLIENT_CONFIG).Table(name)


def reset_clients() -> None:
    """Forget sessions and clients (tests start and stop moto between cases)."""
    with _lock:
        _sessions.clear()
        _clients.clear()
        _home_account.clear()
