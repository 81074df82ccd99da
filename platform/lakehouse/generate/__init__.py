"""Sample-data generators per domain: `lakehouse land --domain NAME`."""
from lakehouse.generate.commerce import land_commerce

DOMAINS = {"commerce": land_commerce}
