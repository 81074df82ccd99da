"""Kafka -> bronze, exactly once: Spark's Kafka source reads an explicit offset range, the executors decode it,
and one Delta commit adds the rows together with the offsets they came from.

Each batch (lakehouse.ingest.kafka_offsets.next_batch) runs:
1. a batch read of [start, end) per partition with Spark's Kafka source (`startingOffsets`/`endingOffsets`
   JSON, `failOnDataLoss`), decoded with Spark SQL on the executors: UTF-8, a JSON object, the declared
   fields as strings (nested values as JSON text and undeclared fields in `_rescued_data`, as the landing
   reader does; numbers as Spark's JSON parser prints them, 1.50 -> 1.5), the UTC day of `event_ts` as `dt`.
   No message crosses the driver; only counts per day do.
2. the messages that cannot be used (not UTF-8, not a JSON object, none of the declared fields, no parsable
   event time to bucket them by) replace the quarantine rows of the same offset range (`replaceWhere` on
   source_file = kafka://<topic>/<partition> and line_number = offset), so a batch re-run after a crash
   leaves each of them once;
3. the good rows are appended to their days in ONE Delta commit that also carries the batch's offsets
   (`userMetadata`) and Delta's idempotent-write transaction (`txnAppId`, `txnVersion` = batch number):
   the offsets move exactly when the rows land. A late message is appended to its old day.
Then the offsets are mirrored into a consumer group for lag monitoring; the next batch starts from the Delta
log, never from that group.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Settings
from lakehouse.errors import ConfigError
from lakehouse.ingest.kafka_offsets import (
    Batch,
    KafkaOffsetError,
    commit_group,
    committed_offsets,
    next_batch,
    watermarks,
)
from lakehouse.ingest.kafka_stream import KafkaStream
from lakehouse.model.spec import TableSpec
from lakehouse.storage.filesystem import spark_path
from lakehouse.storage.locations import TableLocation
from lakehouse.storage.stores import store_for

# Lineage of a Kafka-fed bronze row; _source_file/_line_number keep the landing tables' lineage shape.
KAFKA_LINEAGE = ("_rescued_data", "_source_file", "_line_number", "_ingested_at",
                 "_kafka_partition", "_kafka_offset", "_kafka_timestamp")


@dataclass
class IngestReport:
    batches: list[Batch] = field(default_factory=list)
    rows_by_day: dict[str, int] = field(default_factory=dict)
    quarantined_by_day: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def days(self) -> list[str]:
        return sorted(set(self.rows_by_day) | set(self.quarantined_by_day))

    @property
    def messages(self) -> int:
        return sum(b.messages for b in self.batches)


def table_uri(settings: Settings, spec: TableSpec) -> str:
    return TableLocation.of(spec, settings).uri


def quarantine_uri(settings: Settings, spec: TableSpec) -> str:
    return TableLocation.of(spec, settings).quarantine_uri


def group_id(spec: TableSpec) -> str:
    return f"lakehouse.{spec.id}"


def source_file(topic: str, partition) -> str:
    return f"kafka://{topic}/{partition}"


def _sql_list(names) -> str:
    return "array(" + ", ".join(f"'{n}'" for n in names) + ")"


def decode(messages: DataFrame, spec: TableSpec, stream: KafkaStream, ingested_at: datetime) -> DataFrame:
    """Kafka rows -> bronze columns plus `__reason` (null for a usable message), on the executors."""
    declared = [c.name for c in spec.columns if c.name not in KAFKA_LINEAGE and c.name != "dt"]
    names = _sql_list(declared)
    schema = ", ".join(f"`{n}` string" for n in declared)
    df = messages.select(
        F.col("topic"), F.col("partition"), F.col("offset"), F.col("timestamp"), F.col("value"),
        F.expr("cast(value as string)").alias("__text"))
    df = df.withColumn("__utf8", F.expr("value is not null and is_valid_utf8(__text)"))
    df = df.withColumn("__keys", F.expr("case when __utf8 then json_object_keys(__text) end"))
    df = df.withColumn("__row", F.expr(f"case when __keys is not null then from_json(__text, '{schema}') end"))
    # undeclared fields, value by value (a map parse would fail the whole batch on a repeated key)
    df = df.withColumn("__extra", F.expr(f"case when __keys is not null then array_except(__keys, {names}) end"))
    df = df.withColumn("__ts", F.expr(f"try_to_timestamp(trim(__row.`{stream.event_time}`))"))
    reason = (
        "case when value is null then 'empty message (no value)' "
        "when not __utf8 then 'not UTF-8' "
        "when __keys is null then 'not a JSON object' "
        f"when not exists(__keys, k -> array_contains({names}, k)) then 'none of the declared fields' "
        f"when __row.`{stream.event_time}` is null then '{stream.event_time} missing: no event time to file it under' "
        f"when __ts is null then '{stream.event_time} is not a timestamp' end")
    rescued = ("map_from_arrays(__extra, transform(__extra, k -> "
               "get_json_object(__text, concat('$[\\'', replace(k, '\\'', ''), '\\']'))))")
    return df.select(
        *[F.col(f"__row.`{n}`").alias(n) for n in declared],
        F.expr(f"case when size(__extra) > 0 then to_json({rescued}) end").alias("_rescued_data"),
        F.concat(F.lit("kafka://"), F.col("topic"), F.lit("/"), F.col("partition").cast("string")).alias("_source_file"),
        F.col("offset").alias("_line_number"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        # a usable message is filed under its event day; a quarantined one under its record timestamp's day
        F.date_format(F.coalesce(F.col("__ts"), F.col("timestamp")), "yyyy-MM-dd").alias("dt"),
        F.expr(reason).alias("__reason"),
        F.expr("case when __utf8 then __text else concat('base64:', base64(value)) end").alias("__raw"),
    )


def read_batch(session: SparkSession, bootstrap: str, batch: Batch) -> DataFrame:
    parts = [p for p in batch.start if batch.end[p] > batch.start[p]]
    return (session.read.format("kafka")
            .option("kafka.bootstrap.servers", bootstrap)
            .option("assign", json.dumps({batch.topic: parts}))
            .option("startingOffsets", json.dumps({batch.topic: {str(p): batch.start[p] for p in parts}}))
            .option("endingOffsets", json.dumps({batch.topic: {str(p): batch.end[p] for p in parts}}))
            .option("failOnDataLoss", "true")  # offsets deleted between planning and reading: fail, never skip
            .load())


def _offset_predicate(batch: Batch) -> str:
    return " or ".join(f"(source_file = '{source_file(batch.topic, p)}' and line_number >= {batch.start[p]} "
                       f"and line_number < {batch.end[p]})" for p in sorted(batch.start))


def _write_quarantine(decoded: DataFrame, spec: TableSpec, batch: Batch, uri: str, exists: bool) -> None:
    rows = decoded.where("__reason is not null").select(
        F.lit(spec.id).alias("source_table"),
        F.col("__reason").alias("reason"),
        F.expr("cast(array() as array<string>)").alias("rules"),
        F.col("_source_file").alias("source_file"),
        F.col("_line_number").alias("line_number"),
        F.col("__raw").alias("record"),
        F.col("_ingested_at").alias("quarantined_at"),
        F.col("dt"))
    writer = rows.write.format("delta").partitionBy("dt")
    if exists:  # replace this offset range's rows: an earlier attempt of the batch may have written them
        writer = writer.mode("overwrite").option("replaceWhere", _offset_predicate(batch))
    else:
        writer = writer.mode("append")
    writer.save(spark_path(uri))


def ingest_batch(session: SparkSession, settings: Settings, spec: TableSpec, stream: KafkaStream,
                 batch: Batch, report: IngestReport) -> None:
    store = store_for(settings)
    uri, q_uri = table_uri(settings, spec), quarantine_uri(settings, spec)
    decoded = decode(read_batch(session, settings.kafka_bootstrap, batch), spec, stream,
                     datetime.now(timezone.utc)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = decoded.groupBy("dt", "__reason").count().collect()  # one row per day and reason
        rows = {r["dt"]: r["count"] for r in counts if r["__reason"] is None}
        quarantined: dict[str, int] = {}
        for r in counts:
            if r["__reason"] is not None:
                quarantined[r["dt"]] = quarantined.get(r["dt"], 0) + r["count"]
                report.reasons[r["__reason"]] = report.reasons.get(r["__reason"], 0) + r["count"]
        if sum(rows.values()) + sum(quarantined.values()) != batch.messages:
            raise KafkaOffsetError(f"{spec.id}: Kafka returned {sum(rows.values()) + sum(quarantined.values())} messages "
                              f"for offsets {batch.start}..{batch.end}, expected {batch.messages} (a compacted or "
                              "transactional topic is not supported)")
        _write_quarantine(decoded, spec, batch, q_uri, store.exists(q_uri, "delta"))
        good = decoded.where("__reason is null").drop("__reason", "__raw")
        (good.write.format("delta").mode("append").partitionBy("dt")
         .option("mergeSchema", "true")
         .option("txnAppId", f"{group_id(spec)}:{batch.topic}").option("txnVersion", batch.number)
         .option("userMetadata", batch.metadata(days=sorted(set(rows) | set(quarantined)), rows=sum(rows.values()),
                                                quarantined=sum(quarantined.values())))
         .save(spark_path(uri)))
    finally:
        decoded.unpersist()
    report.batches.append(batch)
    for day, n in rows.items():
        report.rows_by_day[day] = report.rows_by_day.get(day, 0) + n
    for day, n in quarantined.items():
        report.quarantined_by_day[day] = report.quarantined_by_day.get(day, 0) + n


def ingest(session: SparkSession, settings: Settings, spec: TableSpec, until: dict[int, int] | None = None,
           accept_gap: bool = False, log=print) -> IngestReport:
    """Ingest the topic up to its current end (or `until`), one capped batch after another."""
    if not settings.kafka_bootstrap:
        raise ConfigError(f"{spec.id} is fed from Kafka, but LAKEHOUSE_KAFKA_BOOTSTRAP is not set")
    stream = spec.stream
    store, uri, topic = store_for(settings), table_uri(settings, spec), settings.kafka_topic
    target = until or {p: high for p, (_, high) in watermarks(settings.kafka_bootstrap, topic).items()}
    report = IngestReport()
    while True:
        committed = committed_offsets(store, uri)
        marks = watermarks(settings.kafka_bootstrap, topic)
        batch = next_batch(committed, topic, marks, settings.kafka_batch_messages, target, accept_gap)
        if batch.empty:
            return report
        started = time.monotonic()
        ingest_batch(session, settings, spec, stream, batch, report)
        commit_group(settings.kafka_bootstrap, group_id(spec), batch)
        log(f"{spec.id}: batch {batch.number} offsets {batch.start}..{batch.end} ({batch.messages} messages) "
            f"committed in {time.monotonic() - started:.1f}s")


def valid_days(days, start: str) -> list[str]:
    """Days Dagster can hold a partition for, from `start` (Settings.start_date) to tomorrow (an event from a
    broken clock is stored but not announced)."""
    last = (date.today() + timedelta(days=1)).isoformat()
    return [d for d in days if start <= d <= last]


if __name__ == "__main__":  # the command is the CLI's, which resolves the settings once
    raise SystemExit("run `lakehouse ingest-kafka` (it replaced `python -m lakehouse.ingest.kafka`)")
