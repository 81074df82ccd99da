"""The query service: read-only SQL over HTTP on top of lakehouse.query, with API keys, scopes, rate limits,
paging, an audit log and a small page. `lakehouse serve` (or `make serve`) runs it; docs/service.md describes it."""
from lakehouse.service.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "KeyStore", "create_app", "serve"]


def create_app(settings, service=None):
    from lakehouse.service.app import create_app as build

    return build(settings, service)


def serve(settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the service with uvicorn until interrupted (127.0.0.1: put a TLS proxy in front to expose it)."""
    import uvicorn

    app = create_app(settings)
    service = app.state.service
    service.start()  # the audit log checked, the query workers loading while uvicorn starts
    try:
        uvicorn.run(app, host=host, port=port or settings.serve_port, server_header=False, log_level="info")
    finally:
        service.close()
