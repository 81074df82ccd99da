"""Kafka -> bronze.events_kafka against a real broker (KRaft, started by the tests on 127.0.0.1).

Exactly once is checked the strict way: every (partition, offset) the topic holds appears exactly once in
the bronze table or its quarantine, after a kill mid-way, a crash between the quarantine write and the commit,
and a consumer-group reset.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from kafka_server import *  # noqa: F403  (the broker and topic fixtures)

from lakehouse.config import Settings
from lakehouse.dev.kafka_events import produce_clicks
from lakehouse.errors import ConfigError
from lakehouse.ingest import kafka
from lakehouse.ingest.kafka_offsets import KafkaOffsetError, committed_offsets, group_offsets, watermarks
from lakehouse.pipeline.registry import get_spec
from lakehouse.storage.stores import store_for

SPEC = get_spec("bronze.events_kafka")
START = date(2026, 11, 1)


def _settings() -> Settings:
    return Settings.from_env()


def _landed(spark, settings: Settings):
    """(partition, offset) -> times seen, over the bronze table and its quarantine."""
    from pyspark.sql import functions as F

    store = store_for(settings)
    frames = []
    bronze, quarantine = kafka.table_uri(settings, SPEC), kafka.quarantine_uri(settings, SPEC)
    if store.exists(bronze, "delta"):
        frames.append(spark.read.format("delta").load(urlparse(bronze).path)
                      .select(F.col("_kafka_partition").alias("p"), F.col("_kafka_offset").alias("o")))
    if store.exists(quarantine, "delta"):
        frames.append(spark.read.format("delta").load(urlparse(quarantine).path)
                      .select(F.expr("cast(substring_index(source_file, '/', -1) as int)").alias("p"),
                              F.col("line_number").alias("o")))
    if not frames:
        return 0, 0, 0
    df = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    stats = df.groupBy("p", "o").count().agg(F.count("*").alias("distinct"), F.sum("count").alias("total"),
                                             F.max("count").alias("most")).first()
    return stats["distinct"], stats["total"], stats["most"]


def _topic_size(settings: Settings) -> int:
    return sum(high - low for low, high in watermarks(settings.kafka_bootstrap, settings.kafka_topic).values())


def test_kafka_ingest_exactly_once_with_quarantine_and_late_days(spark, lakehouse_env, kafka_topic):
    sent = produce_clicks(os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"], kafka_topic, START, days=3, sessions=150)
    settings = _settings()
    report = kafka.ingest(spark, settings, SPEC)
    assert report.messages == sent.messages == _topic_size(settings)
    assert sum(report.quarantined_by_day.values()) == sent.malformed > 0
    assert set(report.days) == {"2026-11-01", "2026-11-02", "2026-11-03"}
    assert _landed(spark, settings) == (sent.messages, sent.messages, 1)
    # malformed messages: each with its reason, topic, partition and offset
    q = spark.read.format("delta").load(urlparse(kafka.quarantine_uri(settings, SPEC)).path)
    reasons = {r["reason"] for r in q.select("reason").distinct().collect()}
    assert reasons <= {"not UTF-8", "not a JSON object", "none of the declared fields",
                       "event_ts missing: no event time to file it under", "event_ts is not a timestamp"}
    assert len(reasons) >= 3
    assert q.where(f"source_file like 'kafka://{kafka_topic}/%' and line_number >= 0").count() == sent.malformed
    # a late message is filed under its event day, whenever it arrives
    bronze = spark.read.format("delta").load(urlparse(kafka.table_uri(settings, SPEC)).path)
    assert bronze.where("dt != substring(cast(_kafka_timestamp as string), 1, 10)").count() == 0
    assert bronze.where("event_id is null").count() == 0
    # nothing new: a second run commits nothing
    version = store_for(settings).version(kafka.table_uri(settings, SPEC), "delta")
    assert kafka.ingest(spark, settings, SPEC).messages == 0
    assert store_for(settings).version(kafka.table_uri(settings, SPEC), "delta") == version


def test_kafka_crash_between_quarantine_write_and_commit(spark, lakehouse_env, kafka_topic, monkeypatch):
    sent = produce_clicks(os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"], kafka_topic, START, days=1, sessions=100)
    settings = _settings().with_(kafka_batch_messages=120)
    real = kafka._write_quarantine
    calls = []

    def crash_after_second(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed between the quarantine write and the bronze commit")

    monkeypatch.setattr(kafka, "_write_quarantine", crash_after_second)
    with pytest.raises(RuntimeError, match="killed between"):
        kafka.ingest(spark, settings, SPEC)
    assert committed_offsets(store_for(settings), kafka.table_uri(settings, SPEC)).batch == 1
    monkeypatch.setattr(kafka, "_write_quarantine", real)
    kafka.ingest(spark, settings, SPEC)
    assert _landed(spark, settings) == (sent.messages, sent.messages, 1)


def test_kafka_consumer_group_restart_resumes_from_the_delta_log(spark, lakehouse_env, kafka_topic):
    bootstrap = os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"]
    first = produce_clicks(bootstrap, kafka_topic, START, days=1, sessions=60)
    settings = _settings()
    kafka.ingest(spark, settings, SPEC)
    group = kafka.group_id(SPEC)
    ends = {p: high for p, (_, high) in watermarks(bootstrap, kafka_topic).items()}
    assert group_offsets(bootstrap, group, kafka_topic, ends) == ends  # mirrored for lag monitoring
    # the group restarts from scratch (offsets reset to the beginning), and more events arrive
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 0})
    consumer.commit(offsets=[TopicPartition(kafka_topic, p, 0) for p in ends], asynchronous=False)
    consumer.close()
    second = produce_clicks(bootstrap, kafka_topic, date(2026, 11, 5), days=1, sessions=60, seed=8)
    kafka.ingest(spark, settings, SPEC)
    total = first.messages + second.messages
    assert _landed(spark, settings) == (total, total, 1)
    ends = {p: high for p, (_, high) in watermarks(bootstrap, kafka_topic).items()}
    assert group_offsets(bootstrap, group, kafka_topic, ends) == ends


def test_kafka_retention_gap_fails_with_a_clear_message(spark, lakehouse_env, kafka_topic):
    from confluent_kafka import TopicPartition

    from lakehouse.dev.kafka_broker import admin

    bootstrap = os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"]
    produce_clicks(bootstrap, kafka_topic, START, days=1, sessions=60)
    settings = _settings()
    marks = watermarks(bootstrap, kafka_topic)
    half = {p: high // 2 for p, (_, high) in marks.items()}
    kafka.ingest(spark, settings, SPEC, until=half)
    uri = kafka.table_uri(settings, SPEC)
    version = store_for(settings).version(uri, "delta")
    # retention deletes partition 0 up to 10 messages past what the table has ingested
    client = admin(bootstrap)
    futures = client.delete_records([TopicPartition(kafka_topic, 0, half[0] + 10)])
    for f in futures.values():
        f.result(timeout=30)
    with pytest.raises(KafkaOffsetError) as gap:
        kafka.ingest(spark, settings, SPEC)
    message = str(gap.value)
    assert f"partition 0: the next offset to ingest is {half[0]}" in message
    assert f"offsets {half[0]}..{half[0] + 9} (10 messages) were deleted by retention" in message
    assert "\n" not in message
    assert store_for(settings).version(uri, "delta") == version  # nothing written, nothing skipped
    # skipping on purpose is possible, and then the rest is ingested exactly once
    kafka.ingest(spark, settings, SPEC, accept_gap=True)
    distinct, total, most = _landed(spark, settings)
    assert (distinct, total, most) == (_topic_size(settings) + half[0], distinct, 1)


def test_kafka_settings_are_checked_and_optional(lakehouse_env, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", "not a host")
    with pytest.raises(ConfigError) as bad:
        Settings.from_env()
    assert str(bad.value).startswith("LAKEHOUSE_KAFKA_BOOTSTRAP='not a host' is not valid")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", "127.0.0.1:9092,broker-2:9093")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_TOPIC", "bad topic!")
    with pytest.raises(ConfigError, match="LAKEHOUSE_KAFKA_TOPIC"):
        Settings.from_env()
    monkeypatch.delenv("LAKEHOUSE_KAFKA_BOOTSTRAP")
    monkeypatch.delenv("LAKEHOUSE_KAFKA_TOPIC")
    assert Settings.from_env().kafka_bootstrap is None


def _commits(uri: str) -> int:
    log = Path(urlparse(uri).path) / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def test_kafka_100k_messages_exactly_once_across_a_kill(spark, lakehouse_env, kafka_topic, monkeypatch):
    """100k messages over 3 partitions; the ingest process (with its JVM) is killed mid-write: batch 2's
    quarantine rows are committed, its bronze rows are being written. Then it is started again."""
    sent = produce_clicks(os.environ["LAKEHOUSE_KAFKA_BOOTSTRAP"], kafka_topic, START, days=4, sessions=6000,
                          limit=100_000)
    assert sent.messages == 100_000 and sent.late > 0 and sent.malformed > 0
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BATCH_MESSAGES", "20000")  # 60k, then 40k
    settings = _settings()
    quarantine = kafka.quarantine_uri(settings, SPEC)
    command = [sys.executable, "-m", "lakehouse.cli", "ingest-kafka"]  # `lakehouse ingest-kafka`
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _commits(quarantine) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the Python driver and its JVM, no goodbye
        run.wait(timeout=30)
    done = committed_offsets(store_for(settings), kafka.table_uri(settings, SPEC))
    assert done.batch == 1 and sum(done.next.values()) == 60_000, "the kill must come inside batch 2"
    assert _landed(spark, settings)[1] > 60_000  # batch 2's quarantine rows are there, its offsets are not
    finished = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["messages"] == sent.messages - 60_000 and summary["batches"] == 1
    assert _landed(spark, settings) == (sent.messages, sent.messages, 1)


def test_kafka_silver_events_reads_both_click_sources_and_dedups_across_them(spark):
    from model_testing import run_model

    day = "2026-11-02"

    def event(event_id, **lineage):
        return {"event_id": event_id, "event_ts": f"{day}T10:00:00Z", "event_type": "page_view", "user_id": "u1",
                "session_id": "s1", "page": "/", "value": None, "_ingested_at": f"{day}T11:00:00", "dt": day,
                **lineage}

    run = run_model(spark, "silver.events", {
        "bronze_events_clickstream": [event("e1", _source_file="file:///landing/a.jsonl", _line_number=1)],
        "bronze_events_kafka": [event("e1", _source_file="kafka://clicks/0", _line_number=7),
                                event("e2", _source_file="kafka://clicks/2", _line_number=3)],
    }, day)
    assert run.rows("event_id", "_source_file", "_line_number", lineage=True) == [
        {"event_id": "e1", "_source_file": "file:///landing/a.jsonl", "_line_number": 1},
        {"event_id": "e2", "_source_file": "kafka://clicks/2", "_line_number": 3}]
    assert run.quarantine("event_id", "_source_file") == [
        {"event_id": "e1", "_source_file": "kafka://clicks/0", "rules": ["first_delivery"]}]


def test_kafka_decode_files_each_message_or_says_why_not(spark):
    """The executors' decoding, on a tiny frame shaped like Spark's Kafka source."""
    from datetime import datetime, timezone

    values = [
        b'{"event_id": "a", "event_ts": "2026-11-01T23:30:00-02:00", "value": 1.50, "context": {"device": "ios"}}',
        b'{"event_id": "b", "event_id": "c", "event_ts": "2026-11-01 10:00:00", "x": 1, "x": 2}',  # repeated keys
        b'["page_view"]', b'{"event_id": "d"', b"\xff\xfe", None, b'{"foo": 1}', b'{"event_id": "e"}',
        b'{"event_id": "f", "event_ts": "later"}',
    ]
    stamp = datetime(2026, 10, 31, tzinfo=timezone.utc)
    df = spark.createDataFrame([("t", 1, i, stamp, v) for i, v in enumerate(values)],
                               "topic string, partition int, offset bigint, timestamp timestamp, value binary")
    rows = [r.asDict() for r in kafka.decode(df, SPEC, SPEC.stream, stamp).orderBy("_kafka_offset").collect()]
    assert [(r["event_id"], r["value"], r["_rescued_data"], r["dt"], r["__reason"]) for r in rows] == [
        ("a", "1.5", '{"context":"{\\"device\\":\\"ios\\"}"}', "2026-11-02", None),  # UTC day; numbers as Spark prints them
        ("c", None, '{"x":"1"}', "2026-11-01", None),
        (None, None, None, "2026-10-31", "not a JSON object"),
        (None, None, None, "2026-10-31", "not a JSON object"),
        (None, None, None, "2026-10-31", "not UTF-8"),
        (None, None, None, "2026-10-31", "empty message (no value)"),
        (None, None, '{"foo":"1"}', "2026-10-31", "none of the declared fields"),
        ("e", None, None, "2026-10-31", "event_ts missing: no event time to file it under"),
        ("f", None, None, "2026-10-31", "event_ts is not a timestamp"),
    ]
    assert [r["_source_file"] for r in rows[:2]] == ["kafka://t/1", "kafka://t/1"]
    assert rows[4]["__raw"] == "base64://4="  # undecodable bytes kept losslessly
