"""`s3://bucket/key` URIs: the form the steps pass evidence, postmortems and the deployed
declarations around in, split (and read) in one place."""

from __future__ import annotations

from shared import aws
from shared.errors import ConfigurationError, transient_errors


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); ("", "") when it is not an S3 URI."""
    if not uri.startswith("s3://"):
        return "", ""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_configured_object(uri: str, setting: str, what: str) -> bytes:
    """The object a setting names (`RESPONSE_CONFIG_URI`, ...): ConfigurationError naming the
    setting when it is not s3://bucket/key; S3's transient failures retried by the ASL."""
    bucket, key = split_uri(uri)
    if not bucket or not key:
        raise ConfigurationError(f"{setting} is not s3://bucket/key: {uri[:200]!r}")
    with transient_errors(f"S3 GetObject ({what})"):
        body: bytes = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
