"""Sample-data generators per domain: `lakehouse land --domain NAME`."""
from lakehouse.dev.generate.billing import seed_billing
from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.dev.generate.startups import land_startups

# commerce and startups write files to the landing zone; billing seeds its PostgreSQL source
DOMAINS = {"commerce": land_commerce, "startups": land_startups, "billing": seed_billing}
