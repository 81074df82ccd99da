"""One way to reach file:// and s3:// locations: pyarrow filesystems, plus the options delta-rs needs."""
from __future__ import annotations

from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from lakehouse.config import Settings


def filesystem_for(uri: str, settings: Settings) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding `uri` and the path inside it."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return pafs.LocalFileSystem(), unquote(parsed.path) if parsed.scheme else uri  # Path.as_uri() %-encodes
    if parsed.scheme in ("s3", "s3a"):
        kwargs = {"region": settings.aws_region}
        if settings.aws_endpoint_url:
            endpoint = urlparse(settings.aws_endpoint_url)
            kwargs.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
        if keys := settings.aws_keys:
            kwargs.update(access_key=keys.access_key, secret_key=keys.secret_key, session_token=keys.session_token)
        # Ask for retries on throttling / 5xx; the asset retry policy covers longer outages.
        kwargs["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=5)
        return pafs.S3FileSystem(**kwargs), f"{parsed.netloc}{parsed.path}".rstrip("/")
    raise ValueError(f"unsupported location {uri!r}: use file://, a local path, or s3://")


def delta_storage_options(settings: Settings, uri: str | None = None) -> dict[str, str]:
    """storage_options for deltalake: empty for local tables, endpoint/region/credentials for S3.

    `uri` is the table's location; without it the warehouse decides whether the tables live on S3.
    """
    if not (uri or settings.warehouse).startswith(("s3://", "s3a://")):
        return {}
    options = {"AWS_REGION": settings.aws_region}
    if settings.aws_endpoint_url:
        options["AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
        if settings.aws_endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if keys := settings.aws_keys:
        options.update(AWS_ACCESS_KEY_ID=keys.access_key, AWS_SECRET_ACCESS_KEY=keys.secret_key)
        if keys.session_token:
            options["AWS_SESSION_TOKEN"] = keys.session_token
    # S3 has no atomic rename; delta-rs then needs a lock service (DynamoDB) for concurrent writers. The
    # platform has one writer per table at a time (runs are queued, one step writes a table), so it is safe.
    options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    return options


def list_files(uri: str, settings: Settings) -> list[pafs.FileInfo]:
    fs, path = filesystem_for(uri, settings)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except FileNotFoundError:
        return []
    return [i for i in infos if i.type == pafs.FileType.File]


def exists(uri: str, settings: Settings) -> bool:
    fs, path = filesystem_for(uri, settings)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def spark_path(uri: str) -> str:
    """The path Spark's Hadoop file systems take: s3a:// for S3, a plain local path for file:// URIs."""
    if uri.startswith("s3://"):
        return "s3a://" + uri[len("s3://"):]
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(uri).path)  # Path.as_uri() %-encodes; Hadoop would take %20 literally
    return uri

