"""Metadata keys the steps write and the sensors and readiness checks read back: spelled once, here."""

# The tag a landing sensor's run carries: the fingerprint of the batches it requested.
LANDED_BY_SENSOR = "lakehouse/landing_fingerprint"
# Materialization metadata bronze writes on each partition it read from the landing zone.
FINGERPRINT = "landing_fingerprint"
FILES = "landing_files"
LANDED_AT = "landed_at"
