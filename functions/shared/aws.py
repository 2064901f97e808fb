"""The one place AWS clients are made.

Sessions are keyed by (account, region): the home account uses the execution role; a member
account is reached through a read-only role (DIAGNOSTICS_ROLE_NAME) with auto-refreshing
credentials, so a central operations account diagnosing member accounts is configuration.
Nothing is created at import time, so moto and the local emulator intercept every client;
boto3 itself honours AWS_ENDPOINT_URL.

A member-account role that cannot be assumed (denied, missing, STS not activated in the region)
raises RoleUnavailable, which names the role ARN and the AWS error code: the diagnostics runner
turns it into a finding per source instead of failing the step.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

from shared.config import settings
from shared.errors import error_code

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


class RoleUnavailable(Exception):
    """The read-only role of a member account could not be assumed in a region.

    `code` is the AWS error code (AccessDenied: the caller may not assume it or the role's
    trust policy does not name the caller; RegionDisabledException: STS is not activated in
    that region) or, without an answer from STS, the botocore error's name."""

    def __init__(self, role_arn: str, region: str | None, code: str, detail: str) -> None:
        super().__init__(f"could not assume {role_arn} in {region}: {code}: {detail}"[:500])
        self.role_arn = role_arn
        self.region = region
        self.code = code
        self.detail = detail


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


def _assume_role_session(
    account: str, region: str | None, role_name: str, sts: Any
) -> boto3.Session:
    role_arn = f"arn:aws:iam::{account}:role/{role_name}"

    def refresh() -> dict[str, str]:
        try:
            response = sts.assume_role(RoleArn=role_arn, RoleSessionName="incident-runbook")
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            raise RoleUnavailable(role_arn, region, error_code(exc), message) from exc
        except BotoCoreError as exc:
            raise RoleUnavailable(role_arn, region, type(exc).__name__, str(exc)) from exc
        creds = response["Credentials"]
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
    """A boto3 session for (account, region); member accounts go through the assumed role
    (asked of the home account's STS client for that region; RoleUnavailable if refused).
    Made outside the lock, like clients: two threads may both make one, the first is kept."""
    region = region or default_region()
    role_name = settings().diagnostics_role_name
    cross_account = bool(account and role_name and account != home_account())
    key = (account if cross_account else None, region)
    with _lock:
        cached = _sessions.get(key)
    if cached is not None:
        return cached
    if cross_account:
        assert account is not None
        made = _assume_role_session(account, region, role_name, client("sts", region=region))
    else:
        made = boto3.session.Session(region_name=region)
    with _lock:
        return _sessions.setdefault(key, made)


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
