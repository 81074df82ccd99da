"""Startups: company profiling from Crunchbase, Apollo (companies and contacts) and Firecrawl page crawls."""
from lakehouse.domains.startups.bronze import BRONZE
from lakehouse.domains.startups.gold import GOLD
from lakehouse.domains.startups.silver import SILVER

SPECS = (*BRONZE, *SILVER, *GOLD)
