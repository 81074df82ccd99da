"""Around every request: a cap on the body (a query is text, not a file) and the headers every answer carries.

The page is served with a strict Content-Security-Policy (scripts and styles from this origin only, no inline
script), so a value that slipped into the page as markup still could not run; /v1 answers may hold personal data
and are never cached.
"""
from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException

MAX_BODY = 1 << 20
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TOO_LARGE = f"the request body is larger than {MAX_BODY >> 20} MB; send only the query"


class Guardrails:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            await _reject(send)
            return
        seen = 0

        async def limited():  # a chunked body has no Content-Length: count it as it comes
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise HTTPException(413, TOO_LARGE)
            return message

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if scope["path"].startswith("/v1/"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, limited, with_headers)


async def _reject(send) -> None:
    from lakehouse.service.formats import dump_json

    body = dump_json({"error": "request_too_large", "message": TOO_LARGE})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *((k.lower().encode(), v.encode()) for k, v in HEADERS.items())]})
    await send({"type": "http.response.body", "body": body})
