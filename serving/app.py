"""The statistics API: a drop-in for api.uddannelsesstatistik.dk (contract section 5).

``create_app(home, tokens)`` builds the FastAPI app over ``<home>/releases``;
``serve(home, host, port, tokens)`` runs it with uvicorn. Request bodies are parsed and
checked here (types, sizes, limits); names are checked and answered by
:mod:`serving.releases`. Every error is a JSON object ``{"fejl": "<Danish message>"}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import logging.config
import time
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.releases import ApiError, ReleaseStore
from transforms.calendar import Release, is_release

log = logging.getLogger("lpstat.serving")

#: request limits: a body above MAX_BODY_BYTES is refused with 413, the rest with 400
MAX_BODY_BYTES = 1_000_000
DRAIN_BYTES = 16_000_000  # a larger body is cut off unread
MAX_TEXT = 500  # characters in any one string
MAX_NAMES = 50  # entries in nøgletal, detaljering, and keys in filtre
MAX_MEMBERS = 5_000  # captions in one filter list
PAGE_SIZE = 100_000  # default and maximum side_størrelse
REQUEST_TIMEOUT = 10.0  # seconds a query may take
INLINE_ROWS = (
    20_000  # queries over at most this many cells run on the event loop, larger in a worker
)

STATISTIK = "/Api/v1/statistik"
SKEMA = "/Api/v1/skema"
UDGIVELSER = "/Api/v1/udgivelser"
SWAGGER = "/swagger/v1/swagger.json"
HEALTH = "/health"

JSON_TYPE = "application/json; charset=utf-8"
INTERNAL = "Forespørgslen kunne ikke besvares på grund af en intern fejl"


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    # orjson: the same compact UTF-8 bytes as json.dumps(ensure_ascii=False), ~50x faster on a
    # large answer (every value is a string, so NaN never reaches it)
    return Response(orjson.dumps(data), status_code=status, media_type=JSON_TYPE, headers=headers)


def _error(message: str, status: int = 400, headers: dict | None = None) -> Response:
    # a message may quote the client's text: an unpaired surrogate ("\ud800") cannot be
    # UTF-8, so it is shown as "?" rather than failing the answer
    message = message.encode("utf-8", "replace").decode("utf-8")
    return _json({"fejl": message}, status, headers)


def _internal(path: str, exc: BaseException) -> Response:
    """Our own fault: 500 (monitoring sees it), with a reference in the body and in the log
    (with the traceback), never the traceback itself."""
    ref = uuid.uuid4().hex[:12]
    log.error("internal error, reference %s, path %s", ref, path[:200], exc_info=exc)
    return _json({"fejl": f"{INTERNAL} (reference {ref}).", "reference": ref}, 500)


# --- paths are case-insensitive ---------------------------------------------------------------


class CaseInsensitivePaths:
    """ASGI middleware: ``/api/V1/STATISTIK`` (and a trailing ``/``) routes to ``/Api/v1/statistik``."""

    def __init__(self, app, paths: list[str]):
        self.app = app
        self.canonical = {p.lower(): p for p in paths}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            wanted = self.canonical.get(path.lower().rstrip("/") or "/")
            if wanted is not None and wanted != path:
                scope = dict(scope, path=wanted, raw_path=wanted.encode())
        await self.app(scope, receive, send)


# --- request bodies ----------------------------------------------------------------------------


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (else 413).

    A body a little too large is read to its end before the answer, so that the client,
    still sending, gets the 413 rather than a broken connection; a huge one is cut off.
    """

    def too_big() -> ApiError:
        return ApiError(f"Forespørgslen er for stor (højst {limit // 1000} kB).", 413)

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if int(declared) <= DRAIN_BYTES:
            async for _ in request.stream():
                pass
        raise too_big()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            raise too_big()
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_big()
    return b"".join(chunks)


def _parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; keys NFC-normalised (``"n\\u00f8gletal"`` == ``"nøgletal"``)."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("Forespørgslens indhold skal være JSON i UTF-8.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ApiError(
            f"Forespørgslens indhold er ikke gyldig JSON (linje {e.lineno}, kolonne {e.colno})."
        ) from None
    except (ValueError, RecursionError):
        raise ApiError(
            "Forespørgslens indhold er ikke gyldig JSON (for dybt indlejret eller for stort tal)."
        ) from None
    if not isinstance(data, dict):
        raise ApiError('Forespørgslens indhold skal være et JSON-objekt, fx {"område": "EUD"}.')
    return {unicodedata.normalize("NFC", k): v for k, v in data.items()}


def _text(body: dict, field: str, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise ApiError(f"Feltet '{field}' mangler.")
        return None
    if not isinstance(value, str):
        raise ApiError(f"Feltet '{field}' skal være en tekst.")
    if len(value) > MAX_TEXT:
        raise ApiError(f"Feltet '{field}' er for langt (højst {MAX_TEXT} tegn).")
    return unicodedata.normalize("NFC", value)


def _texts(value: Any, field: str, limit: int, example: str) -> list[str]:
    if not isinstance(value, list):
        raise ApiError(f"Feltet '{field}' skal være en liste af tekster, fx {example}.")
    if len(value) > limit:
        raise ApiError(f"Feltet '{field}' har for mange elementer (højst {limit}).")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ApiError(f"Feltet '{field}' skal være en liste af tekster, fx {example}.")
        if len(item) > MAX_TEXT:
            raise ApiError(f"En tekst i feltet '{field}' er for lang (højst {MAX_TEXT} tegn).")
        out.append(unicodedata.normalize("NFC", item))
    return out


def _flag(body: dict, field: str) -> bool:
    value = body.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(f"Feltet '{field}' skal være true eller false.")
    return value


def _whole(body: dict, field: str, default: int, low: int, high: int | None) -> int:
    value = body.get(field)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        span = f"mellem {low} og {high}" if high is not None else f"mindst {low}"
        raise ApiError(f"Feltet '{field}' skal være et helt tal {span}.")
    return value


def _release(body: dict) -> str | None:
    month = _text(body, "udgivelse")
    if month is not None and not is_release(month):
        raise ApiError("Feltet 'udgivelse' skal have formen ÅÅÅÅ-MM, fx '2026-10'.")
    return month


def _filters(value: Any) -> list[tuple[str, list[str]]]:
    if value is None:
        return []
    example = '{"[Tid].[År]": ["2025", "2026"]}'
    if not isinstance(value, dict):
        raise ApiError(
            f"Feltet 'filtre' skal være et objekt med detaljer og lister af medlemmer, fx {example}."
        )
    if len(value) > MAX_NAMES:
        raise ApiError(f"Feltet 'filtre' har for mange detaljer (højst {MAX_NAMES}).")
    out = []
    for key, members in value.items():
        if len(key) > MAX_TEXT:
            raise ApiError(f"En detalje i feltet 'filtre' er for lang (højst {MAX_TEXT} tegn).")
        key = unicodedata.normalize("NFC", key)
        out.append(
            (
                key,
                []
                if members is None
                else _texts(members, f"filtre {key}", MAX_MEMBERS, '["2026"]'),
            )
        )
    return out


# --- the app -----------------------------------------------------------------------------------

_STATISTIK_SCHEMA = {
    "type": "object",
    "required": ["område", "emne", "underemne", "nøgletal", "detaljering"],
    "properties": {
        "område": {"type": "string", "example": "EUD"},
        "emne": {"type": "string", "example": "AFSL"},
        "underemne": {"type": "string", "example": "AFSLAARS"},
        "nøgletal": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Nøgletallenes navne, med eller uden '[Measures].[…]'.",
            "example": ["[Measures].[Antal afslag]"],
        },
        "detaljering": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Detaljer som '[Dimension].[Attribut]', i den ønskede rækkefølge.",
            "example": ["[Tid].[År]", "[Uddannelse].[Uddannelse]"],
        },
        "filtre": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Medlemmer pr. detalje: OG mellem detaljer, ELLER inden for en liste. "
            "Detaljer uden for 'detaljering' lægges sammen (kun for nøgletal, der kan summeres).",
            "example": {"[Tid].[År]": ["2025", "2026"]},
        },
        "indlejret": {"type": "boolean", "default": False},
        "tomme_rækker": {"type": "boolean", "default": False},
        "formattering": {"type": "string", "enum": ["json"], "default": "json"},
        "side": {
            "type": "integer",
            "minimum": 0,
            "default": 1,
            "description": "1-baseret; 0 svarer til 1.",
        },
        "side_størrelse": {
            "type": "integer",
            "minimum": 1,
            "maximum": PAGE_SIZE,
            "default": PAGE_SIZE,
        },
        "udgivelse": {
            "type": "string",
            "pattern": "^\\d{4}-\\d{2}$",
            "description": "Standard: seneste udgivelse.",
        },
    },
}
_SKEMA_SCHEMA = {
    "type": "object",
    "properties": {
        "område": {"type": "string"},
        "emne": {"type": "string"},
        "underemne": {"type": "string"},
        "detalje": {"type": "string", "example": "[Tid].[År]"},
        "udgivelse": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"},
    },
}
_FEJL = {"type": "object", "properties": {"fejl": {"type": "string"}}, "required": ["fejl"]}


def _responses(ok: dict) -> dict:
    err = {"content": {"application/json": {"schema": _FEJL}}}
    return {
        200: {"description": "Svar", "content": {"application/json": {"schema": ok}}},
        400: {"description": "Forespørgslen kan ikke besvares", **err},
        401: {"description": "Manglende eller ugyldig adgangsnøgle", **err},
        413: {"description": "Forespørgslen er for stor", **err},
    }


def create_app(
    home: Path,
    tokens: list[str],
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    max_body_bytes: int = MAX_BODY_BYTES,
    check_interval: float = 1.0,
) -> FastAPI:
    """The API over ``<home>/releases``; requests need ``Authorization: Bearer <one of tokens>``."""
    valid = [t.encode("utf-8") for t in tokens if t]
    if not valid:
        raise ValueError("create_app needs at least one non-empty API token")
    store = ReleaseStore(Path(home), check_interval=check_interval)
    workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lpstat-query")
    bearer = HTTPBearer(
        auto_error=False, description="Adgangsnøgle: 'Authorization: Bearer <nøgle>'."
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            release = store.get()
            await asyncio.get_running_loop().run_in_executor(workers, release.load_all)
        except ApiError as e:
            log.warning("no release loaded at start: %s", e.message)
        yield
        workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="lpstat statistik-API",
        version="1",
        description="Statistik om SOSU-elever fra Lærepladsen.dk, med samme kontrakt som "
        "api.uddannelsesstatistik.dk. Alle værdier er tekster i dansk talformat; tilbageholdte "
        '(diskretionerede) og tomme værdier er "".',
        openapi_url=SWAGGER,
        docs_url="/swagger",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    handle = _handler(workers, request_timeout, max_body_bytes)
    _add_routes(app, store, _authoriser(valid, bearer), handle, request_timeout)
    _add_error_handlers(app)
    app.add_middleware(
        CaseInsensitivePaths, paths=[STATISTIK, SKEMA, UDGIVELSER, SWAGGER, HEALTH, "/swagger"]
    )
    return app


def _authoriser(valid: list[bytes], bearer: HTTPBearer):
    """The dependency that lets a request through only with one of the ``valid`` tokens."""

    # (a default, not Annotated: with postponed annotations FastAPI cannot see a local `bearer`)
    async def authorised(
        creds: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
    ) -> None:
        given = creds.credentials.encode("utf-8", "replace") if creds else b""
        ok = False
        for token in valid:  # compare with every token, in constant time
            ok |= hmac.compare_digest(given, token)
        if not ok:
            raise ApiError(
                "Manglende eller ugyldig adgangsnøgle. Send headeren 'Authorization: Bearer <nøgle>'.",
                401,
            )

    return authorised


def _handler(workers: ThreadPoolExecutor, request_timeout: float, max_body_bytes: int):
    """``handle(request, fn)``: parse the body, run ``fn`` on it; work that ``fn`` hands back
    (a function of the deadline) runs in the worker pool, bounded in time."""

    async def run(work):
        deadline = time.monotonic() + request_timeout
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(workers, work, deadline), request_timeout + 0.5
            )
        except TimeoutError:
            raise ApiError(
                "Forespørgslen tog for lang tid. Prøv med en mindre 'side_størrelse' eller færre detaljer.",
                503,
            ) from None

    async def handle(request: Request, fn) -> Response:
        try:
            body = _parse_object(await _read_body(request, max_body_bytes))
            out = fn(body)
            return out if isinstance(out, Response) else await run(out)
        except ApiError as e:
            return _error(e.message, e.status)
        except Exception as exc:  # never a stack trace to the client; the log has it
            return _internal(request.url.path, exc)

    return handle


def _statistik(store: ReleaseStore, body: dict, request_timeout: float):
    """Check a /statistik body; answer at once when the query is small, else hand back the
    work (a function of the deadline) for a worker."""
    omraade = _text(body, "område", required=True)
    emne = _text(body, "emne", required=True)
    underemne = _text(body, "underemne", required=True)
    if "nøgletal" not in body:
        raise ApiError("Feltet 'nøgletal' mangler.")
    if "detaljering" not in body:
        raise ApiError("Feltet 'detaljering' mangler (en liste, gerne tom).")
    noegletal = _texts(body["nøgletal"], "nøgletal", MAX_NAMES, '["[Measures].[Antal afslag]"]')
    detaljering = _texts(body["detaljering"], "detaljering", MAX_NAMES, '["[Tid].[År]"]')
    filtre = _filters(body.get("filtre"))
    indlejret = _flag(body, "indlejret")
    tomme = _flag(body, "tomme_rækker")
    fmt = _text(body, "formattering")
    if fmt is not None and fmt.lower() != "json":
        raise ApiError(f"Formatteringen '{fmt}' understøttes ikke. Brug 'json'.")
    side = _whole(body, "side", 1, 0, None)
    size = _whole(body, "side_størrelse", PAGE_SIZE, 1, PAGE_SIZE)
    release = store.get(_release(body))

    def answer(query, deadline: float) -> Response:
        rows = release.answer(query, deadline)
        start, stop = rows.page(side, size)
        if indlejret:
            return _json(rows.nested(start, stop))
        return Response(rows.flat_json(start, stop), media_type=JSON_TYPE)

    def resolve():
        return release.resolve(omraade, emne, underemne, noegletal, detaljering, filtre, tomme)

    if not release.loaded(omraade, emne, underemne):
        return lambda deadline: answer(resolve(), deadline)  # loads the cube: in a worker
    query = resolve()
    if release.rows(query) <= INLINE_ROWS:
        return answer(query, time.monotonic() + request_timeout)
    return lambda deadline: answer(query, deadline)


def _skema(store: ReleaseStore, body: dict) -> Response:
    release = store.get(_release(body))
    fields = [_text(body, f) for f in ("område", "emne", "underemne", "detalje")]
    return _json(release.skema_answer(*fields))


def _add_routes(app: FastAPI, store: ReleaseStore, authorised, handle, request_timeout: float):
    """The contract's endpoints (section 5), with their OpenAPI description."""

    @app.post(
        STATISTIK,
        summary="Statistik: rækker for en kombination af detaljer",
        dependencies=[Security(authorised)],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _STATISTIK_SCHEMA}},
            }
        },
        responses=_responses(
            {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        ),
    )
    async def post_statistik(request: Request) -> Response:
        return await handle(request, lambda body: _statistik(store, body, request_timeout))

    @app.post(
        SKEMA,
        summary="Skema: områder, emner, underemner, detaljer og medlemmer",
        dependencies=[Security(authorised)],
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _SKEMA_SCHEMA}},
            }
        },
        responses=_responses({}),
    )
    async def post_skema(request: Request) -> Response:
        return await handle(request, lambda body: _skema(store, body))

    @app.get(
        UDGIVELSER,
        summary="Udgivelser: de tilgængelige udgivelser og deres måned",
        dependencies=[Security(authorised)],
        responses=_responses({"type": "array", "items": {"type": "object"}}),
    )
    async def get_udgivelser() -> Response:
        latest = store.latest()
        return _json(
            [
                {"udgivelse": m, "måned": Release.parse(m).name, "seneste": m == latest}
                for m in store.months()
            ]
        )

    @app.get(HEALTH, summary="Driftstjek (uden adgangsnøgle)")
    async def health() -> Response:
        return _json({"status": "ok", "seneste_udgivelse": store.latest()})


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"fejl": ...}``: 4xx for the client's, 500 with a reference for ours."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.message, exc.status, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path[:200]
        if exc.status_code == 404:
            message = f"Adressen '{path}' findes ikke. Brug POST {STATISTIK} eller POST {SKEMA}."
        elif exc.status_code == 405:
            message = f"Metoden {request.method} kan ikke bruges på '{path}'."
        else:
            message = f"Forespørgslen kunne ikke besvares (HTTP {exc.status_code})."
        return _error(message, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error("Forespørgslen har en ugyldig form.", 400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        return _internal(request.url.path, exc)


# --- running it ----------------------------------------------------------------------------------


class RedactTokens(logging.Filter):
    """Replaces any API token in a log record with '***' (message, arguments, exception text)."""

    def __init__(self, tokens: list[str] | None = None):
        super().__init__()
        self.tokens = [t for t in (tokens or []) if t]

    def _clean(self, value):
        if isinstance(value, str):
            for t in self.tokens:
                if t in value:
                    value = value.replace(t, "***")
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = self._clean(record.exc_text)
        return True


def log_config(tokens: list[str]) -> dict:
    """uvicorn's logging, with every handler passing through :class:`RedactTokens`."""
    redact = {"()": RedactTokens, "tokens": list(tokens)}
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": redact},
        "formatters": {
            "default": {"format": fmt},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s %(levelname)s access: %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "filters": ["redact"],
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "lpstat.serving": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }


def serve(home: Path, host: str, port: int, tokens: list[str]) -> None:
    """Serve the API with uvicorn until interrupted. Tokens never reach the log."""
    import uvicorn

    config = log_config(tokens)
    logging.config.dictConfig(config)
    app = create_app(Path(home), tokens)
    log.info(
        "serving %s on http://%s:%d (%d token(s))", Path(home) / "releases", host, port, len(tokens)
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=config,
        server_header=False,
        timeout_keep_alive=30,
    )
