"""Development-only code: sample-data generators and launchers, never imported by a run."""
