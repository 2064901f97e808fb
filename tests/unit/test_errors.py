"""Transient vs. permanent AWS errors decide whether the state machine retries."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shared.errors import TransientDependencyError, is_transient, reraise_transient


def _error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 400, True),
        ("ProvisionedThroughputExceededException", 400, True),
        ("InternalServerError", 500, True),
        ("Whatever", 503, True),
        ("AccessDeniedException", 400, False),
        ("ValidationException", 400, False),
    ],
)
def test_is_transient(code: str, status: int, transient: bool) -> None:
    assert is_transient(_error(code, status)) is transient


def test_reraise_transient_uses_the_name_the_asl_retries() -> None:
    with pytest.raises(TransientDependencyError) as caught:
        reraise_transient(_error("ThrottlingException"), "DynamoDB")
    assert type(caught.value).__name__ == "TransientDependencyError"
    reraise_transient(_error("AccessDeniedException"), "DynamoDB")  # permanent: returns
