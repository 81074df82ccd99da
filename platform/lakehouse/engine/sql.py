"""Loading transform SQL from sql/<layer>/<table>.sql and running it over upstream temp views."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings


def quoted(name: str) -> str:
    """A column name as a SQL identifier, even when it holds dots or backticks."""
    return "`" + name.replace("`", "``") + "`"


def exact_column(name: str) -> Column:
    """A column by its exact name (a dot is part of the name, not a struct field)."""
    return F.col(quoted(name))


def sql_dir(settings: Settings) -> Path:
    """Configured dir, else the repo's sql/ (editable install), else the copy installed as data files."""
    candidates = [
        settings.sql_dir,
        Path(__file__).resolve().parents[3] / "sql",
        Path(sys.prefix) / "share" / "lakehouse" / "sql",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "cannot find the sql/ directory; set LAKEHOUSE_SQL_DIR to the folder holding <layer>/<table>.sql"
    )


def load_sql(relative: str, settings: Settings) -> str:
    path = sql_dir(settings) / relative
    if not path.is_file():
        raise FileNotFoundError(f"transform SQL {relative} not found under {path.parent.parent}")
    return path.read_text()


def run_sql(spark: SparkSession, text: str, start_dt: str, end_dt: str) -> DataFrame:
    """Run one model. Models may use the named parameters :start_dt and :end_dt (the batch's first/last day)."""
    args = {k: v for k, v in {"start_dt": start_dt, "end_dt": end_dt}.items() if f":{k}" in text}
    return sql_with_args(spark, text.strip().rstrip(";"), args)


def sql_with_args(spark: SparkSession, text: str, args: dict[str, str]) -> DataFrame:
    """`spark.sql(text, args=...)` with string parameters, on a classic or a Spark Connect session.

    A Connect server parses the text with Delta's parser, which drops named parameters (delta-io/delta#7640),
    and the legacy substitution that works around it on a classic session is not applied there: the values
    are bound here as SQL string literals, as that substitution would bind them."""
    if not args or not type(spark).__module__.startswith("pyspark.sql.connect"):
        return spark.sql(text, args=args or None)
    names = "|".join(re.escape(k) for k in args)
    return spark.sql(re.sub(rf"(?<![:\w]):({names})\b", lambda m: _literal(args[m.group(1)]), text))


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
