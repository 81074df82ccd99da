"""Whether the warehouse can be read: one line naming it when it cannot (a dead S3 endpoint, a bucket that does
not answer, a folder without permission), instead of a traceback after the S3 client's retries."""
from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError

CONNECT_TIMEOUT = 3.0  # seconds for the endpoint to accept a connection


class WarehouseUnreachableError(LakehouseError):
    """The warehouse (or the endpoint in front of it) does not answer."""


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_endpoint(settings: Settings) -> None:
    """For a warehouse on S3 behind AWS_ENDPOINT_URL (moto, MinIO): that something accepts a connection there.
    It takes a moment; the S3 clients' own retries take many seconds to say the same, with a traceback."""
    if not settings.warehouse.startswith(("s3://", "s3a://")) or not settings.aws_endpoint_url:
        return
    endpoint = urlparse(settings.aws_endpoint_url)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise WarehouseUnreachableError(
            f"the warehouse {settings.warehouse} cannot be read: nothing answers at {settings.aws_endpoint_url} "
            f"(AWS_ENDPOINT_URL): {exc.strerror or _reason(exc)}") from None


@contextmanager
def reading(settings: Settings) -> Iterator[None]:
    """Check the endpoint, then turn a storage error inside the block into one line naming the warehouse."""
    from deltalake.exceptions import DeltaError

    check_endpoint(settings)
    try:
        yield
    except (OSError, DeltaError) as exc:
        raise WarehouseUnreachableError(f"the warehouse {settings.warehouse} cannot be read: {_reason(exc)}") from None
