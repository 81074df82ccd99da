"""The HTTP API (FastAPI): /v1 for keys' holders, /healthz and /readyz for the platform, / for people.

Every answer that is not data is JSON `{"error", "message"}` with one line (see errors.py); the OpenAPI document
is at /openapi.json. The interactive docs (/docs) are off: they load scripts from a CDN.
"""
from __future__ import annotations

import logging
import math
import secrets
import time

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakehouse.config import LAYERS, Settings
from lakehouse.console import printable
from lakehouse.errors import LakehouseError
from lakehouse.query.listing import describe, list_databases, list_tables
from lakehouse.query.names import UnknownTableError
from lakehouse.query.scopes import AccessDeniedError, check_access, masked_columns, scopes_of
from lakehouse.query.tables import known_tables
from lakehouse.service import formats, page
from lakehouse.service.accesslog import drop_query_strings
from lakehouse.service.errors import ServiceError, service_error
from lakehouse.service.guardrails import Guardrails
from lakehouse.service.keys import ApiKey
from lakehouse.service.models import (MAX_PAGE, DatabaseList, ErrorBody, Health, QualityHistory, QueryPage,
                                      QueryRequest, TableList, TableSchema)
from lakehouse.service.results import Result, UnknownCursorError
from lakehouse.service.service import Service

log = logging.getLogger("lakehouse.service")
bearer = HTTPBearer(auto_error=False, description="an API key from `lakehouse keys add NAME --scope ...`")


def _errors(*statuses: int) -> dict:
    return {s: {"model": ErrorBody} for s in (400, 401, 403, 429, 503, *statuses)}


DATA = {200: {"model": QueryPage, "description": "a page of the result (JSON, CSV or an Arrow IPC stream, by Accept)",
              "content": {formats.CSV: {"schema": {"type": "string"}},
                          formats.ARROW: {"schema": {"type": "string", "format": "binary"}}}}}


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def authorized(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> ApiKey:
    return request.app.state.service.authenticate(credentials.credentials if credentials else None, _client(request))


def strict_query(request: Request) -> None:
    """Refuse query parameters an endpoint does not take: `?databse=gold` would otherwise list every table."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params or not request.url.path.startswith("/v1/"):
        return  # the page may be opened with any query string
    taken, stack = set(), [dependant]
    while stack:
        node = stack.pop()
        taken.update(p.alias for p in node.query_params)
        stack.extend(node.dependencies)
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
        raise ServiceError(400, "bad_request", f"unknown query parameter {printable(unknown[0][:60])!r} for "
                           f"{printable(request.url.path[:200])}; {takes}")


def _media(request: Request) -> str:
    media = formats.negotiate(request.headers.get("accept"))
    if media is None:
        raise ServiceError(406, "not_acceptable", f"results come as {', '.join(formats.MEDIA_TYPES)}; "
                           f"the Accept header asked for {printable(request.headers['accept'][:100])}")
    return media


def _page(result: Result, offset: int, size: int, media: str, elapsed_ms: float | None = None) -> Response:
    chunk = result.table.slice(offset, size)
    next_cursor = result.cursor(offset + chunk.num_rows) if chunk.num_rows else None
    headers = {"X-Query-Id": result.id, "X-Total-Rows": str(result.table.num_rows), "X-Offset": str(offset),
               "X-Truncated": str(result.truncated).lower()}
    if next_cursor:
        headers.update({"X-Next-Cursor": next_cursor, "Link": f'</v1/results/{next_cursor}>; rel="next"'})
    if media == formats.CSV:
        return Response(formats.csv_bytes(chunk), headers=headers, media_type="text/csv; charset=utf-8")
    if media == formats.ARROW:
        return Response(formats.arrow_bytes(chunk), headers=headers, media_type=formats.ARROW)
    body = {"query_id": result.id, "engine": result.engine, "columns": formats.columns(chunk.schema),
            "rows": formats.rows(chunk), "offset": offset, "total_rows": result.table.num_rows,
            "truncated": result.truncated, "next_cursor": next_cursor, "elapsed_ms": elapsed_ms,
            "engine_query_id": result.engine_query_id}
    return Response(formats.dump_json(body), headers=headers, media_type=formats.JSON)


def _json_error(error: ServiceError) -> Response:
    return Response(formats.dump_json(error.body()), status_code=error.status, media_type=formats.JSON,
                    headers=error.headers)


def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    service = service or Service(settings)
    app = FastAPI(title="lakehouse query service", version="1",
                  description="Read-only SQL over the lakehouse with API keys, scopes, rate limits and paging.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json", redirect_slashes=False,
                  dependencies=[Depends(strict_query)])
    app.state.service = service
    drop_query_strings()
    app.add_middleware(Guardrails)
    _handlers(app)

    @app.get("/healthz", response_model=Health, response_model_exclude_none=True, tags=["health"])
    async def healthz():
        """The process answers (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Health, responses={503: {"model": ErrorBody}}, tags=["health"])
    def readyz():
        """Keys are loaded, the audit log can be written and the warehouse is there (readiness)."""
        from lakehouse.storage.filesystem import filesystem_for

        # anyone may ask: the answer names what is missing, never a path or an error's text (the log has those)
        try:
            keys = service.keys.keys()
        except LakehouseError as exc:
            log.error("not ready: %s", exc)
            raise ServiceError(503, "not_ready", "not ready: the key file cannot be read (see the service log)") from None
        if not keys:
            raise ServiceError(503, "not_ready", "not ready: no API keys yet (add one with lakehouse keys add NAME)")
        if not service.audit.writable():
            raise ServiceError(503, "not_ready", "not ready: the audit log cannot be written (see the service log)")
        try:
            fs, root = filesystem_for(settings.warehouse, settings)
            present = fs.get_file_info(root).type.name == "Directory"
        except OSError as exc:
            log.error("not ready: the warehouse does not answer: %s", exc)
            raise ServiceError(503, "not_ready", "not ready: the warehouse does not answer (see the service log)") from None
        if not present:
            raise ServiceError(503, "not_ready", "not ready: the warehouse is not there yet (nothing materialized)")
        ready, started = service.pool.readiness()
        if started and not ready:  # `lakehouse serve` starts them before it listens; a query would wait for one
            raise ServiceError(503, "not_ready", "not ready: the query workers are starting")
        return {"status": "ready", "checks": {"keys": f"{len(keys)} keys", "audit": "writable", "warehouse": "present",
                                              "workers": f"{ready} of {service.pool.size} ready"}}

    @app.get("/v1/databases", response_model=DatabaseList, responses=_errors(), tags=["catalog"])
    def databases(request: Request, key: ApiKey = Depends(authorized)):
        """The databases a query can name: the layers and quarantine (with Glue names when the catalog is on)."""
        with service.audited("catalog", key, _client(request), path=request.url.path):
            return {"databases": list_databases(settings).to_pylist()}

    @app.get("/v1/tables", response_model=TableList, responses=_errors(), tags=["catalog"])
    def tables(request: Request, database: str | None = Query(None, description="bronze, silver, gold or quarantine"),
               key: ApiKey = Depends(authorized)):
        """Registry tables (and quarantine tables holding rows), with partitions and whether this key may read them."""
        with service.audited("catalog", key, _client(request), path=request.url.path):
            scopes, known = scopes_of(key.scopes), known_tables(settings)
            rows = []
            for row in list_tables(settings, layer=database).to_pylist():
                table = known[row["table"]]
                rows.append({"table": row["table"], "database": table.layer, "format": row["format"],
                             "partitions": row["partitions"], "last_partition": row["last_partition"],
                             "glue_table": row.get("glue_table"), "readable": _readable(table, scopes)})
            return {"tables": rows}

    @app.get("/v1/tables/{table}/schema", response_model=TableSchema, responses=_errors(404), tags=["catalog"])
    def table_schema(table: str, request: Request, key: ApiKey = Depends(authorized)):
        """Stored columns and types, PII flags (and which this key sees masked), partitions, Delta version."""
        with service.audited("catalog", key, _client(request), path=request.url.path):
            scopes = scopes_of(key.scopes)
            try:
                found = describe(table, settings)
            except UnknownTableError as exc:
                raise ServiceError(404, "unknown_table", service_error(exc).message) from None
            masked = set(masked_columns(found.table, scopes))
            columns = [{"name": c["column"], "type": c["type"], "pii": c["pii"], "masked": c["column"] in masked,
                        "description": c["description"]} for c in found.columns.to_pylist()]
            return {"table": found.table.id, "database": found.table.layer, "description": found.table.description,
                    "format": found.table.format, "readable": _readable(found.table, scopes),
                    "has_data": found.has_data, "columns": columns, "partitions": found.partitions,
                    "delta_version": found.delta_version, "glue_table": found.glue_table}

    @app.get("/v1/tables/{table}/quality", response_model=QualityHistory, responses=_errors(404), tags=["catalog"])
    def table_quality(table: str, request: Request, key: ApiKey = Depends(authorized),
                      days: int = Query(28, ge=1, le=366, description="the newest partitions shown"),
                      metric: str | None = Query(None, max_length=200,
                                                 description="only metrics matching this pattern, e.g. null_fraction.*")):
        """A table's recorded metrics per partition (ops.partition_metrics) with the band each partition is judged
        by and the outliers: numbers and column names only, so every key may read them (as it may read ops)."""
        from lakehouse.quality.anomaly import BASELINE
        from lakehouse.quality.report import metric_histories

        with service.audited("quality", key, _client(request), path=request.url.path):
            found = known_tables(settings).get(table)
            if found is None or found.layer not in LAYERS:
                raise ServiceError(404, "unknown_table", f"no table {printable(table)!r} with a quality history: "
                                   "name a bronze, silver or gold table as layer.table (GET /v1/tables)")
            histories = metric_histories(settings, found.spec, days, metric)
            return {"table": found.id, "baseline": BASELINE,
                    "metrics": [{"metric": m.metric, "level": m.level, "points": [_finite(vars(p)) for p in m.points]}
                                for m in histories]}

    @app.post("/v1/query", response_model=None, responses={**DATA, **_errors(406, 413, 422)}, tags=["query"])
    def query(body: QueryRequest, request: Request, key: ApiKey = Depends(authorized)):
        """Run one read-only query; the first page comes back with a cursor for the next (the result is kept on
        the service for a while, not re-run per page)."""
        media = _media(request)
        began = time.perf_counter()
        with service.audited("query", key, _client(request), sql=body.sql,
                             engine=body.engine or service.settings.query_engine,
                             scopes=list(key.scopes)) as audit:
            result = service.run(key, body)
            elapsed = round((time.perf_counter() - began) * 1000, 1)
            audit.update(query_id=result.id, rows=result.table.num_rows, truncated=result.truncated,
                         engine_query_id=result.engine_query_id)
            return _page(result, 0, body.page_size, media, elapsed)

    @app.get("/v1/results/{cursor}", response_model=None, responses={**DATA, **_errors(404, 406)}, tags=["query"])
    def results(cursor: str, request: Request, key: ApiKey = Depends(authorized),
                page_size: int | None = Query(None, ge=1, le=MAX_PAGE, description="default: the query's")):
        """The page a cursor points at, from the result kept for it."""
        media = _media(request)
        with service.audited("page", key, _client(request)) as audit:
            result, offset = _find(service, cursor, key)
            size = page_size or result.page_size
            audit.update(query_id=result.id, offset=offset, rows=min(size, max(result.table.num_rows - offset, 0)))
            return _page(result, offset, size, media)

    @app.delete("/v1/results/{cursor}", status_code=204, responses=_errors(404), tags=["query"])
    def forget(cursor: str, request: Request, key: ApiKey = Depends(authorized)):
        """Free a kept result before it expires."""
        with service.audited("forget", key, _client(request)):
            _find(service, cursor, key)  # 404 for a cursor this key does not own
            service.results.drop(cursor, key.id)
            return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page.INDEX)

    @app.get("/ui/app.js", include_in_schema=False)
    async def script():
        return Response(page.SCRIPT, media_type="text/javascript; charset=utf-8")

    @app.get("/ui/app.css", include_in_schema=False)
    async def style():
        return Response(page.STYLE, media_type="text/css; charset=utf-8")

    return app


def _readable(table, scopes: frozenset[str]) -> bool:
    try:
        check_access(table, scopes)
    except AccessDeniedError:
        return False
    return True


def _finite(point: dict) -> dict:
    # JSON has no NaN or Infinity: such a value (a ratio of nothing) is shown as not recorded
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in point.items()}


def _find(service: Service, cursor: str, key: ApiKey) -> tuple[Result, int]:
    try:
        return service.results.find(cursor, key.id)
    except UnknownCursorError:
        raise ServiceError(404, "unknown_cursor", "unknown or expired cursor: results are kept "
                           f"{service.settings.serve_result_ttl:g} s after their last page while memory allows; "
                           "run the query again") from None


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError):
        return _json_error(exc)

    @app.exception_handler(LakehouseError)
    async def _lakehouse(request: Request, exc: LakehouseError):
        return _json_error(service_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        message = printable("; ".join(problems[:3]))[:500]
        return _json_error(ServiceError(400, "bad_request", f"invalid request: {message}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            error = ServiceError(404, "not_found", f"no such endpoint: {request.method} "
                                 f"{printable(request.url.path[:200])} (see /openapi.json)")
        elif exc.status_code == 413:
            error = ServiceError(413, "request_too_large", str(exc.detail))
        elif exc.status_code == 405:
            # Starlette's Allow names the first route on the path only; GET and DELETE /v1/results/x are two
            allowed = sorted({m for route in request.app.router.routes if isinstance(route, APIRoute)
                              and route.path_regex.match(request.scope["path"]) for m in route.methods})
            error = ServiceError(405, "method_not_allowed", f"{request.method} is not allowed on "
                                 f"{printable(request.url.path[:200])}; it takes {', '.join(allowed)}",
                                 {"Allow": ", ".join(allowed)})
        else:
            error = ServiceError(exc.status_code, "http_error", printable(str(exc.detail))[:200], exc.headers)
        return _json_error(error)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        reference = secrets.token_hex(4)
        log.error("internal error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
        return _json_error(ServiceError(500, "internal", f"internal error (reference {reference}); the service's "
                                        "log has the details"))
