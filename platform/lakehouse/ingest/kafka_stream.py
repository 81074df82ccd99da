"""The mark on a bronze TableSpec that says: this table is fed from a Kafka topic (lakehouse.ingest.kafka)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaStream:
    """The topic and brokers come from the settings (LAKEHOUSE_KAFKA_*); unset bootstrap = nothing to do."""

    event_time: str = "event_ts"  # the payload field whose UTC day is the row's partition

    def body(self, spec, context, lakehouse, spark):
        from lakehouse.ingest.kafka_asset import kafka_body  # Spark and Kafka clients load only when a run needs them

        yield from kafka_body(self, spec, context, lakehouse, spark)
