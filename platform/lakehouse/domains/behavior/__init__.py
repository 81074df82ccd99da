"""Customer behaviour: daily engagement per customer, exported from a Redshift-style analytics warehouse."""
from lakehouse.domains.behavior.bronze import BRONZE
from lakehouse.domains.behavior.silver import SILVER

SPECS = (*BRONZE, *SILVER)
