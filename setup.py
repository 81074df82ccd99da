"""The `lakehouse` package lives in platform/lakehouse; platform/ is a source root, never a package."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def _sql_files():
    # sql/ sits outside the package; ship it as data files so a non-editable install still finds it.
    out = {}
    for path in sorted((ROOT / "sql").rglob("*.sql")):
        rel = path.relative_to(ROOT)
        out.setdefault(str(Path("share/lakehouse") / rel.parent), []).append(str(rel))
    return sorted(out.items())


setup(
    name="lakehouse",
    version="0.1.0",
    description="A Dagster + PySpark lakehouse: bronze -> silver -> gold on Delta/Parquet with a Glue catalog",
    python_requires=">=3.11,<3.13",
    package_dir={"": "platform"},
    # engine/java holds no Python: named here, setuptools ships its source without warning at every install
    packages=[*find_packages(where="platform", include=["lakehouse", "lakehouse.*"]), "lakehouse.engine.java"],
    include_package_data=True,
    package_data={"lakehouse.engine": ["log4j2.properties"],
                  "lakehouse.engine.java": ["*.java"]},  # compiled by `make install`
    data_files=_sql_files(),
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-aws>=0.29,<0.30",
        "dagster-pyspark>=0.29,<0.30",
        "pyspark>=4.2.0,<4.3",  # delta-spark 4.4 is built for Spark 4.2
        "delta-spark>=4.4.0,<4.4.1",  # its JARs (io.delta:delta-spark_4.2_2.13) must be on Maven Central
        "deltalake>=1.6,<2",
        "pyarrow>=18,<27",
        "pandas>=2.2,<3",
        "pandera[pyspark]>=0.35,<0.36",
        "boto3>=1.35,<2",
        "sqlglot>=26,<31",
        "duckdb>=1.1,<3",  # the query layer's local engine (and the benchmark's one-node baseline)
        "rich>=13,<16",
        "psycopg[binary]>=3.2,<4",
        "fastapi>=0.115,<1",  # the query service (lakehouse serve)
        "uvicorn>=0.30,<1",
        "confluent-kafka>=2.6,<3",  # Kafka offsets, the sensor and consumer-group mirroring (rows go through Spark)
        "trino>=0.330,<1",  # the query layer's Trino engine (lakehouse query --engine trino)
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "pytest-xdist>=3.6,<4",  # make test: `-n 2 --dist loadfile`, two workers with one SparkSession each
            "pytest-timeout>=2.3,<3",  # a hung test fails with its stack instead of stalling the suite
            "moto[server]>=5.2,<6",
            "psutil>=5.9,<8",
            "ruff>=0.8,<1",
            "httpx>=0.27,<1",  # the query service tests' client
            "schemathesis>=4,<5",  # the service's OpenAPI document, fuzzed
            "websockets>=12,<18",  # the service page test drives Chromium over the DevTools protocol
            "uv>=0.9,<1",  # make lock (uv pip compile) and make deps-latest (its throwaway venv)
        ],
    },
    entry_points={"console_scripts": ["lakehouse=lakehouse.cli:main"]},
)
