"""Where a Kafka-fed bronze table stands: offsets committed in its Delta log, the topic's offsets, the next batch.

The offsets a table has ingested live in its own Delta log, in the commit that wrote the rows (the commit's
`userMetadata`, next to Delta's idempotent-write transaction id), never in Kafka's consumer group: a crash
before that commit leaves the old offsets, a crash after it leaves the new ones, so a restart neither loses nor
repeats a message. Everything here reads metadata only (delta-rs, Kafka's watermarks): the sensor calls it
without a JVM.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lakehouse.errors import LakehouseError

KEY = "lakehouse.kafka"  # the key of our entry in a commit's userMetadata
HISTORY_PAGE = 100


class KafkaOffsetError(LakehouseError):
    """The topic and the table's committed offsets do not line up (retention gap, re-created topic, ...)."""


@dataclass(frozen=True)
class Committed:
    topic: str | None = None
    batch: int = 0  # batches committed so far (Delta txnVersion of the last one)
    next: dict[int, int] = field(default_factory=dict)  # partition -> next offset to ingest


@dataclass(frozen=True)
class Batch:
    topic: str
    number: int
    start: dict[int, int]
    end: dict[int, int]  # exclusive

    @property
    def messages(self) -> int:
        return sum(self.end[p] - self.start[p] for p in self.start)

    @property
    def empty(self) -> bool:
        return self.messages == 0

    def metadata(self, **extra) -> str:
        return json.dumps({KEY: {"topic": self.topic, "batch": self.number, "start": self.start, "end": self.end,
                                 **extra}}, sort_keys=True)


def committed_offsets(store, uri: str) -> Committed:
    """The newest commit that carries our offsets (maintenance commits in between carry none)."""
    version = store.version(uri, "delta")
    if version is None:
        return Committed()
    limit = HISTORY_PAGE
    while True:
        history = store.history(uri, "delta", limit)
        for commit in history:  # newest first
            meta = commit.get("userMetadata")
            if meta and KEY in meta:
                entry = json.loads(meta)[KEY]
                return Committed(entry["topic"], int(entry["batch"]), {int(p): int(o) for p, o in entry["end"].items()})
        if len(history) < limit:
            break
        limit *= 10
    raise KafkaOffsetError(
        f"{uri} has Delta commits but none records the Kafka offsets it ingested (was its log cleaned up, or the "
        "table written by something else?): refusing to guess where to resume")


def _consumer(bootstrap: str, group: str = "lakehouse-offsets-probe"):
    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "log_level": 0})


def watermarks(bootstrap: str, topic: str, timeout: float = 15) -> dict[int, tuple[int, int]]:
    """partition -> (earliest offset kept, offset after the last message)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap)
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise KafkaOffsetError(f"Kafka topic {topic!r} does not exist on {bootstrap}"
                                   + (f": {meta.error}" if meta is not None and meta.error else ""))
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in sorted(meta.partitions)}
    finally:
        consumer.close()


def next_batch(committed: Committed, topic: str, marks: dict[int, tuple[int, int]], cap: int,
               until: dict[int, int] | None = None, accept_gap: bool = False) -> Batch:
    """The next batch: from the committed offsets to the topic's end (or `until`), at most `cap` per partition.

    A committed offset below the earliest the topic still keeps means retention deleted messages before they
    were ingested: that is an error naming the partition and the offsets lost, unless `accept_gap`."""
    if committed.topic is not None and committed.topic != topic:
        raise KafkaOffsetError(f"the table holds offsets of Kafka topic {committed.topic!r}, not {topic!r} "
                               "(LAKEHOUSE_KAFKA_TOPIC): point it at a new table or set the topic back")
    gone = sorted(set(committed.next) - set(marks))
    if gone:
        raise KafkaOffsetError(f"Kafka topic {topic!r} has no partition {gone} any more, but the table ingested "
                               "from it: was the topic re-created?")
    start, end = {}, {}
    for p, (low, high) in marks.items():
        begin = committed.next.get(p, low)  # a partition never seen starts at the earliest message kept
        if begin < low and not accept_gap:
            raise KafkaOffsetError(
                f"Kafka topic {topic!r} partition {p}: the next offset to ingest is {begin}, but the earliest "
                f"message the broker still keeps is {low}: offsets {begin}..{low - 1} ({low - begin} messages) "
                "were deleted by retention before they were ingested. Nothing was written. Re-send them from the "
                "source, or skip them on purpose with `lakehouse ingest-kafka --accept-retention-gap`")
        if begin > high:
            raise KafkaOffsetError(f"Kafka topic {topic!r} partition {p}: the table ingested up to offset {begin} "
                                   f"but the topic ends at {high}: was the topic re-created?")
        begin = max(begin, low)
        stop = min(high, begin + cap, (until or {}).get(p, high))
        start[p], end[p] = begin, max(begin, stop)
    return Batch(topic, committed.batch + 1, start, end)


def commit_group(bootstrap: str, group: str, batch: Batch) -> None:
    """Mirror the committed offsets into a consumer group, so Kafka's lag tools see the table's progress.
    Only for monitoring: the ingest itself never reads them."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap, group)
    try:
        consumer.commit(offsets=[TopicPartition(batch.topic, p, o) for p, o in batch.end.items()],
                        asynchronous=False)
    finally:
        consumer.close()


def group_offsets(bootstrap: str, group: str, topic: str, partitions) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap, group)
    try:
        return {tp.partition: tp.offset for tp in
                consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=15)}
    finally:
        consumer.close()


def message_days(bootstrap: str, batch: Batch, timeout: float = 30) -> set[str]:
    """The UTC days of the batch's record timestamps (the producer's event time), read from the topic."""
    from datetime import datetime, timezone

    from confluent_kafka import TopicPartition

    consumer = _consumer(bootstrap)
    days: set[str] = set()
    try:
        pending = {p for p in batch.start if batch.end[p] > batch.start[p]}
        consumer.assign([TopicPartition(batch.topic, p, batch.start[p]) for p in pending])
        while pending:
            messages = consumer.consume(10_000, timeout=timeout)
            if not messages:
                raise KafkaOffsetError(f"Kafka topic {batch.topic!r}: no messages within {timeout}s while reading "
                                       f"offsets {batch.start}..{batch.end}")
            for m in messages:
                if m.error() or m.partition() not in pending or m.offset() >= batch.end[m.partition()]:
                    continue
                days.add(datetime.fromtimestamp(m.timestamp()[1] / 1000, timezone.utc).date().isoformat())
                if m.offset() + 1 >= batch.end[m.partition()]:
                    pending.discard(m.partition())
    finally:
        consumer.close()
    return days
