"""Value checks of the silver.customer_behavior contract, per column (see quality.contracts.contract_schema)."""
from __future__ import annotations

# A day has 1440 minutes; more than that on one customer's row means the load went wrong, not the visitor.
MAX_MINUTES = 1440

CUSTOMER_BEHAVIOR = {
    "sessions": dict(ge=0),
    "page_views": dict(ge=0),
    "cart_adds": dict(ge=0),
    "minutes_on_site": dict(ge=0, le=MAX_MINUTES),
}
