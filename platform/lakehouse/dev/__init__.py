"""Development only: sample-data generators, the moto (S3 + Glue + Athena) launcher and the local Spark cluster.

Nothing a run needs imports this package, so a deployment may leave it out.
"""
