"""Click events produced to a Kafka topic, in the shape of the file-landed `events/clickstream` feed.

The events are the commerce generator's own (`lakehouse.dev.generate.commerce`), one day after another, keyed by
session (a session stays in one partition, in order) and stamped with their event time as the record
timestamp. Two kinds of dirt on top of the file feed's:

- late events: LATE_RATE of each day's events are held back and sent after the events of LATE_BY days later;
- malformed messages (MALFORMED_RATE): bytes that are not UTF-8, cut-off JSON, JSON that is not an object,
  an object with none of the event's fields, an event whose event_ts is not a time.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

from lakehouse.dev.generate.commerce import _clicks

LATE_RATE = 0.02
LATE_BY = 2
MALFORMED_RATE = 0.01
MALFORMED = (
    b"\xff\xfe\x00not utf-8",
    b'{"event_id": "E-cut", "event_ts": "2024-',
    b'["page_view", "E-list"]',
    b'{"hello": "world"}',
    b'{"event_id": "E-bad-ts", "event_ts": "yesterday", "event_type": "page_view", "session_id": "S-x"}',
)


@dataclass
class Sent:
    messages: int = 0
    late: int = 0
    malformed: int = 0
    days: set[str] = field(default_factory=set)


def _millis(text: str, day: date) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.combine(day, time(12))
    if moment.tzinfo is None:  # the feed's zone-less times are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def click_messages(start: date, days: int, sessions: int, seed: int = 7
                   ) -> Iterator[tuple[bytes, bytes, int, str]]:
    """(key, value, timestamp ms, kind) in sending order; kind is "event", "late" or "malformed"."""
    rng = random.Random(seed)
    held: dict[int, list] = {}
    for offset in range(days + LATE_BY):
        for message in held.pop(offset, []):
            yield message
        if offset >= days:
            continue
        day = start + timedelta(days=offset)
        events, _ = _clicks(seed, day, sessions)
        for event in events:
            message = (event["session_id"].encode(), json.dumps(event).encode(), _millis(event["event_ts"], day))
            if rng.random() < MALFORMED_RATE:
                yield (message[0], rng.choice(MALFORMED), message[2], "malformed")
            elif rng.random() < LATE_RATE:
                held.setdefault(offset + LATE_BY, []).append((*message, "late"))
            else:
                yield (*message, "event")


def produce_clicks(bootstrap: str, topic: str, start: date, days: int, sessions: int, seed: int = 7,
                   limit: int | None = None) -> Sent:
    """Send the click events of `days` days (about 4.5 x `sessions` a day), at most `limit` messages."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
                         "log_level": 0})
    sent, failed = Sent(), []

    def delivered(err, _msg):
        if err is not None:
            failed.append(str(err))

    for key, value, stamp, kind in click_messages(start, days, sessions, seed):
        if limit is not None and sent.messages >= limit:
            break
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=stamp, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.5)
        sent.messages += 1
        sent.late += kind == "late"
        sent.malformed += kind == "malformed"
        sent.days.add(datetime.fromtimestamp(stamp / 1000, timezone.utc).date().isoformat())
        producer.poll(0)
    if producer.flush(60) or failed:
        raise RuntimeError(f"{len(failed)} click messages were not delivered to {topic}: {failed[:3]}")
    return sent
