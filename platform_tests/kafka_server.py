"""A throwaway Kafka broker for the tests: lakehouse.dev.kafka_broker started once per session on 127.0.0.1.

`make test` fetches the broker's JARs first (`make kafka-deps`); a test run without them fetches them here,
so a fresh machine with Maven runs these tests instead of skipping them. Test modules take the fixtures with
`from kafka_server import *`.
"""
from __future__ import annotations

import uuid

import pytest

__all__ = ["kafka_broker", "kafka_topic"]

from lakehouse.dev.kafka_broker import create_topic, fetch, start_kafka


@pytest.fixture(scope="session")
def kafka_broker():
    fetch()
    broker = start_kafka()
    yield broker
    broker.stop()


@pytest.fixture
def kafka_topic(kafka_broker, monkeypatch) -> str:
    """A new 3-partition topic for one test, with the settings pointing at it."""
    topic = f"clicks-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_broker.bootstrap, topic, partitions=3)
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", kafka_broker.bootstrap)
    monkeypatch.setenv("LAKEHOUSE_KAFKA_TOPIC", topic)
    return topic
