"""shared/s3uri.py: splitting s3:// URIs, and a setting that names no object is a clear error."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.s3uri import read_configured_object, split_uri


def test_split() -> None:
    assert split_uri("s3://bucket/incidents/x/postmortem.md") == (
        "bucket",
        "incidents/x/postmortem.md",
    )
    assert split_uri("https://bucket/key") == ("", "")
    assert split_uri("s3://bucket") == ("bucket", "")


@pytest.mark.parametrize("uri", ["", "s3://bucket", "s3:///key", "file:///tmp/x.json"])
def test_a_setting_without_an_object_names_the_setting(uri: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^REMEDIATION_CONFIG_URI is not s3://"):
        read_configured_object(uri, "REMEDIATION_CONFIG_URI", "remediation rules")
