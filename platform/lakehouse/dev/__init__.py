"""Development-only tools: local servers and sample data producers. Nothing in a run imports this package."""
