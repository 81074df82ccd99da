"""The asset body of a Kafka-fed bronze table: ingest what is new, then announce every day it touched.

A run ingests all offsets up to the end the kafka_sensor planned (run tag END_TAG) or, run by hand, up to the
topic's current end; its partition keys are the days the sensor saw in those messages. A day touched outside
them (an event whose payload time differs from its record timestamp) gets its own materialization event, so
silver re-runs every day that received rows, also an old one a late message landed in. The rows are committed
by lakehouse.ingest.kafka with the offsets; the IO manager is handed nothing to write.
"""
# No `from __future__ import annotations`: Dagster reads the context annotation (see pipeline/assets.py).
import json

from dagster import AssetCheckResult, AssetCheckSeverity, AssetMaterialization, MetadataValue, Output

from lakehouse.ingest.kafka import ingest, table_uri, valid_days
from lakehouse.timing import Stopwatch

END_TAG = "lakehouse/kafka_end_offsets"
CHECK = "landing_files_readable"  # the bronze check: here, every message could be decoded


def kafka_body(stream, spec, context, lakehouse, spark):
    settings = lakehouse.settings()
    if not settings.kafka_bootstrap:
        # nothing published, so no partition looks present: silver.events reads the landed click events alone
        context.log.info(f"{spec.id}: LAKEHOUSE_KAFKA_BOOTSTRAP is not set, so Kafka ingestion is off")
        return
    settings = settings.for_run()
    tag = context.run.tags.get(END_TAG)
    until = {int(p): int(o) for p, o in json.loads(tag).items()} if tag else None
    watch = Stopwatch()
    with watch("spark_session"):
        session = spark.session()
    with watch("kafka_ingest"):
        report = ingest(session, settings, spec, until=until, log=context.log.info)
    keys = set(context.partition_keys)
    for day in valid_days(report.days, settings.start_date):
        counts = {"rows_published": report.rows_by_day.get(day, 0),
                  "rows_quarantined": report.quarantined_by_day.get(day, 0)}
        if day in keys:
            context.add_asset_metadata(counts, partition_key=day)
        else:
            context.log_event(AssetMaterialization(asset_key=context.asset_key, partition=day,
                                                   metadata={**counts, "reason": "late or re-filed Kafka messages"}))
    quarantined = sum(report.quarantined_by_day.values())
    yield AssetCheckResult(check_name=CHECK, passed=quarantined == 0, severity=AssetCheckSeverity.WARN,
                           metadata={"messages": report.messages, "quarantined": quarantined,
                                     "reasons": MetadataValue.json(report.reasons)})
    last = report.batches[-1] if report.batches else None
    yield Output(None, metadata={
        "dagster/uri": table_uri(settings, spec), "topic": settings.kafka_topic, "messages": report.messages,
        "batches": len(report.batches), "days_touched": MetadataValue.json(report.days),
        "end_offsets": MetadataValue.json(last.end if last else {}), **watch.metadata()})
