"""Billing: users, subscriptions, invoices and transactions exported from PostgreSQL, and daily revenue."""
from lakehouse.domains.billing.bronze import BRONZE
from lakehouse.domains.billing.gold import GOLD
from lakehouse.domains.billing.silver import SILVER

SPECS = (*BRONZE, *SILVER, *GOLD)
