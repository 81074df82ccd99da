"""Development-only tools: the long-lived Spark Connect server and the `make dev` supervisor."""
