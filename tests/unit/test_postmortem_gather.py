"""gather.metric_graph: whatever becomes of the PNG, the Graphs section keeps its console links,
so a reviewer can still open the metric when the image could not be stored."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from msgspec.structs import replace

from postmortem.gather import metric_graph
from postmortem.render import render

from .test_postmortem_cases import full_case
from .test_postmortem_graph import ALARM, FakeCloudWatch

REGION = "eu-central-1"


class FakeWriter:
    """Stores the image, or refuses as S3 would."""

    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error
        self.images: list[tuple[str, bytes]] = []

    def put_image(self, incident_id: str, png: bytes) -> str:
        if self.error is not None:
            raise self.error
        self.images.append((incident_id, png))
        return f"incidents/{incident_id}/metric.png"


def _graph(writer: FakeWriter) -> Any:
    case = full_case()
    return metric_graph(
        FakeCloudWatch({"MetricAlarms": [ALARM]}),
        writer,  # type: ignore[arg-type]
        case.incident,
        case.recovery,
        case.closed_at,
        REGION,
    )


def test_a_stored_image_is_embedded_with_its_links() -> None:
    writer = FakeWriter()
    graph = _graph(writer)
    assert graph.status == "embedded" and graph.image == "metric.png"
    assert graph.console_url and graph.alarm_url
    assert len(writer.images) == 1


def test_an_image_that_could_not_be_stored_keeps_the_console_links() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    graph = _graph(FakeWriter(denied))
    assert graph.status == "unavailable"
    assert graph.reason == "the image could not be stored (AccessDenied)"
    assert "#metricsV2:graph=~(metrics~(~(~'AWS*2FLambda~'Errors" in graph.console_url
    assert graph.alarm_url.endswith("#alarmsV2:alarm/orders-api-errors")
    assert graph.title == "orders-api-errors"

    text = render(replace(full_case(), graph=graph)).markdown
    section = text.split("## Graphs", 1)[1].split("\n## ", 1)[0]
    assert "No graph here: the image could not be stored (AccessDenied)." in section
    assert "](metric.png)" not in section
    assert (
        "In the CloudWatch console: [the metric over the incident window]"
        f"(<https://{REGION}.console.aws.amazon.com/cloudwatch/home" in section
    )
    assert "[the alarm and its history](<https://" in section
    assert "| The metric graph | the image could not be stored (AccessDenied) |" in text
