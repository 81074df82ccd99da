"""The mark on a bronze TableSpec that says: this table is fed from a Kafka topic (lakehouse.ingest.kafka)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaStream:
    """The topic and brokers come from the settings (LAKEHOUSE_KAFKA_*); unset bootstrap = nothing to do. The
    asset body is pipeline/kafka_asset.py (Spark and the Kafka client load only when a run needs them)."""

    event_time: str = "event_ts"  # the payload field whose UTC day is the row's partition
