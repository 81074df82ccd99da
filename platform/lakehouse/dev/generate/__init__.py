"""Sample-data generators per domain: `lakehouse land --domain NAME`."""
from lakehouse.dev.generate.behavior import seed_behavior
from lakehouse.dev.generate.billing import seed_billing
from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.dev.generate.startups import land_startups

# commerce and startups write files to the landing zone; billing and behavior seed their source database
DOMAINS = {"commerce": land_commerce, "startups": land_startups, "billing": seed_billing, "behavior": seed_behavior}
DATABASE_OF = {"billing": "billing", "behavior": "redshift"}  # the connection (config.DATABASES) each one seeds
