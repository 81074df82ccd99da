"""Commerce landing entities: every row kept as received (strings), plus lineage columns added at ingest."""
from __future__ import annotations

from functools import partial

from lakehouse.ingest.kafka_stream import KafkaStream
from lakehouse.model.declare import landed
from lakehouse.model.declare import strings as _cols
from lakehouse.model.spec import Column, TableSpec

_bronze = partial(landed, "commerce")


BRONZE = (
    _bronze(
        "shop_orders", "shop", "orders", "csv", "Orders exported by the shop, as received.",
        _cols("order_id", "customer_id", "product_id", "order_ts", "quantity", "unit_price", "currency",
              "status", "region", "payment_method", required=("order_id",)),
    ),
    _bronze(
        "shop_customers", "shop", "customers", "csv", "Daily change feed of shop customers, as received.",
        _cols("customer_id", "first_name", "last_name", "email", "phone", "country", "updated_at",
              required=("customer_id",)),
        pii=("first_name", "last_name", "email", "phone"),
    ),
    _bronze(
        "shop_products", "shop", "products", "csv", "Daily full snapshot of the product catalog, as received.",
        _cols("product_id", "name", "category", "base_price", "currency", "active", required=("product_id",)),
    ),
    _bronze(
        "fx_rates", "fx", "rates", "csv", "Daily FX rates to USD, as received (some currencies skip weekends).",
        _cols("date", "currency", "usd_rate", "rate_source", required=("currency",)),
    ),
    _bronze(
        "crm_contacts", "crm", "contacts", "jsonl", "CRM contacts in the CRM API's nested shape, as received.",
        _cols("id", "properties", "associations", "createdAt", "updatedAt", "archived", required=("id",)),
        pii=("properties",),
    ),
    _bronze(
        "crm_deals", "crm", "deals", "jsonl", "CRM deals in the CRM API's nested shape, as received.",
        _cols("id", "properties", "associations", "createdAt", "updatedAt", "archived", required=("id",)),
    ),
    _bronze(
        "events_clickstream", "events", "clickstream", "jsonl", "Clickstream events exported from the message bus.",
        _cols("event_id", "event_ts", "event_type", "user_id", "session_id", "page", "value",
              required=("event_id",)),
    ),
)

# Click events from a Kafka topic (LAKEHOUSE_KAFKA_BOOTSTRAP / LAKEHOUSE_KAFKA_TOPIC), the same events as
# events_clickstream; filed under the day of their event time. Unset bootstrap: the asset does nothing.
EVENTS_KAFKA = TableSpec(
    layer="bronze",
    domain="commerce",
    name="events_kafka",
    description="Click events consumed from Kafka, exactly once; offsets live in the table's Delta log.",
    columns=_cols("event_id", "event_ts", "event_type", "user_id", "session_id", "page", "value",
                  required=("event_id",)) + (
        Column("_rescued_data", "string", "Fields nobody declared, as JSON."),
        Column("_source_file", "string", "kafka://<topic>/<partition>."),
        Column("_line_number", "bigint", "The message's offset."),
        Column("_ingested_at", "timestamp"),
        Column("_kafka_partition", "int"), Column("_kafka_offset", "bigint"),
        Column("_kafka_timestamp", "timestamp", "The record timestamp (the producer's event time)."),
        Column("dt", "string", "UTC day of event_ts.", required=True)),
    stream=KafkaStream(),
    format="delta",  # the consumed offsets are kept in its Delta log
)
BRONZE = (*BRONZE, EVENTS_KAFKA)
