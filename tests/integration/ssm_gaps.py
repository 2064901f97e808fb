"""moto's server with the emulator's SSM layers (OpsCenter, Automation) in front, for tests
that talk to them with real boto3 clients, as the emulator's users do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from runbook.local.automation import Automation
from runbook.local.opscenter import OpsCenter
from runbook.local.server import MotoServer, free_port
from tests.aws_shapes import checked

REGION = "us-east-1"


@dataclass
class SsmGaps:
    server: MotoServer
    opscenter: OpsCenter
    automation: Automation

    def client(self, service: str, region: str = REGION) -> Any:
        """A client for the server; the responses of the emulator's SSM operations are
        checked against botocore's model."""
        client = boto3.client(
            service,
            endpoint_url=self.server.endpoint_url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        if service != "ssm":
            return client
        return checked(client, [*self.opscenter.operations(), *self.automation.operations()])


@pytest.fixture(scope="module")
def ssm_gaps() -> Iterator[SsmGaps]:
    opscenter = OpsCenter()
    automation = Automation(step_seconds=0.1)
    server = MotoServer(
        free_port(), wrap=lambda app: opscenter.middleware(automation.middleware(app))
    )
    automation.endpoint_url = server.endpoint_url
    server.start()
    try:
        yield SsmGaps(server, opscenter, automation)
    finally:
        automation.shutdown()
        server.stop()
