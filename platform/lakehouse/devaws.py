"""`make dev-aws`: the Dagster UI against a local moto server (S3 + Glue + Athena APIs) on 127.0.0.1.

moto keeps state in memory only: this is for trying the AWS code path, never a home for data you keep.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    import boto3
    from moto.server import ThreadedMotoServer

    port = int(os.environ.get("MOTO_PORT") or _free_port())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = os.environ.get("LAKEHOUSE_DEV_BUCKET", "lakehouse-dev")
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
        LAKEHOUSE_WAREHOUSE=f"s3://{bucket}/warehouse", LAKEHOUSE_LANDING=f"s3://{bucket}/landing",
        LAKEHOUSE_GLUE_PREFIX=env.get("LAKEHOUSE_GLUE_PREFIX", "dev"),
    )
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    print(f"moto server (S3, Glue, Athena) at {endpoint}; warehouse s3://{bucket}/warehouse")
    print(f"land sample data from another shell with:\n  AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing "
          f"AWS_SECRET_ACCESS_KEY=testing LAKEHOUSE_LANDING=s3://{bucket}/landing .venv/bin/lakehouse land")
    try:
        return subprocess.call([sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml"], env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
