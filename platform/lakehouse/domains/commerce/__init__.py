"""Commerce: orders, customers with history, products, FX rates, CRM and click events."""
from lakehouse.domains.commerce.bronze import BRONZE
from lakehouse.domains.commerce.gold import GOLD
from lakehouse.domains.commerce.silver import SILVER

SPECS = (*BRONZE, *SILVER, *GOLD)
