"""The Kafka sensor: sees offsets beyond those bronze.events_kafka committed and requests the days they touch.

Each tick compares the topic's end offsets with the offsets in the table's Delta log (metadata only), plans the
next batch (at most LAKEHOUSE_KAFKA_BATCH_MESSAGES per partition), reads the batch's record timestamps (the
producers' event time) to learn its days, and requests ONE run of the bronze asset over those days with the
planned end offsets as a tag. The run key is the topic and those offsets, so a batch is requested once even
when the cursor is lost; the offsets themselves come from the Delta log, so nothing here can skip a message.
A late message lands in its old day, which the run re-announces and silver re-runs. A retention gap fails
the tick with the message naming partition and offsets. Without LAKEHOUSE_KAFKA_BOOTSTRAP the sensor skips.
"""
from __future__ import annotations

import json
from datetime import date

from dagster import AssetKey, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from lakehouse.ingest.kafka_offsets import committed_offsets, message_days, next_batch, watermarks
from lakehouse.pipeline.assets import asset_key
from lakehouse.pipeline.kafka_asset import END_TAG
from lakehouse.pipeline.registry import get_spec
from lakehouse.resources import LakehouseResource

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
TABLE = "bronze.events_kafka"


def evaluate_kafka(lakehouse: LakehouseResource) -> RunRequest | SkipReason:
    from lakehouse.ingest.kafka import table_uri, valid_days

    settings = lakehouse.settings()
    if not settings.kafka_bootstrap:
        return SkipReason("LAKEHOUSE_KAFKA_BOOTSTRAP is not set: Kafka ingestion is off")
    spec = get_spec(TABLE)
    committed = committed_offsets(lakehouse.store(), table_uri(settings, spec))
    marks = watermarks(settings.kafka_bootstrap, settings.kafka_topic)
    batch = next_batch(committed, settings.kafka_topic, marks, settings.kafka_batch_messages)
    if batch.empty:
        return SkipReason(f"no new messages in {settings.kafka_topic} (offsets {committed.next})")
    # events from broken clocks (before the first partition, after tomorrow) are stored, under today's run
    days = valid_days(sorted(message_days(settings.kafka_bootstrap, batch)), settings.start_date) or [date.today().isoformat()]
    end = json.dumps({str(p): o for p, o in sorted(batch.end.items())})
    return RunRequest(run_key=f"{settings.kafka_topic}@{end}", asset_selection=[asset_key(spec)],
                      tags={END_TAG: end, RANGE_START: days[0], RANGE_END: days[-1]})


@sensor(name="kafka_sensor", minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[AssetKey(TABLE.split("."))],
        description="Requests bronze.events_kafka for the days new Kafka messages touch (off without "
                    "LAKEHOUSE_KAFKA_BOOTSTRAP).")
def kafka_sensor(context: SensorEvaluationContext, lakehouse: LakehouseResource):
    return evaluate_kafka(lakehouse)
