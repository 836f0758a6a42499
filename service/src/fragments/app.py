"""HTTP routes of the fragments service (see FRAGMENTS-API.md for the contract)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import convert, logs
from .auth import Htpasswd, basic_credentials, owner_id
from .config import Settings
from .storage import Fragment, MemoryStorage, SQLiteStorage, Storage

log = logging.getLogger("fragments")


def ok(status_code: int = 200, headers: dict[str, str] | None = None, **body) -> JSONResponse:
    return JSONResponse({"status": "ok", **body}, status_code=status_code, headers=headers)


def error(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "error": {"code": status_code, "message": message}},
                        status_code=status_code, headers=headers)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Api:
    def __init__(self, settings: Settings, storage: Storage, users: Htpasswd | None):
        self.settings = settings
        self.storage = storage
        self.users = users

    # --- helpers -----------------------------------------------------------------
    def owner(self, request: Request) -> str:
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None or self.users is None or not self.users.check(*credentials):
            raise HTTPException(401, "authentication required")
        return owner_id(credentials[0])

    async def body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"fragment larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"fragment larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def find(self, owner: str, fragment_id: str) -> Fragment:
        fragment = self.storage.get(owner, fragment_id)
        if fragment is None:
            raise HTTPException(404, f"no fragment {fragment_id}")
        return fragment

    def location(self, request: Request, fragment_id: str) -> str:
        base = self.settings.api_url or f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        return f"{base}/v1/fragments/{fragment_id}"

    # --- routes ------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return ok(
            author="fragments-deploy",
            githubUrl="https://example.invalid/fragments-deploy",
            version=self.settings.version,
            gitSha=self.settings.git_sha,
            headers={"Cache-Control": "no-cache"},
        )

    async def create(self, request: Request) -> Response:
        owner = self.owner(request)
        content_type = request.headers.get("content-type", "")
        if not convert.is_supported(content_type):
            return error(415, f"unsupported fragment type {content_type or '(none)'!r}")
        data = await self.body(request)
        stamp = now()
        fragment = Fragment(id=str(uuid.uuid4()), ownerId=owner, created=stamp, updated=stamp,
                            type=content_type, size=len(data))
        self.storage.save(fragment, data)
        return ok(201, headers={"Location": self.location(request, fragment.id)}, fragment=fragment.to_json())

    async def list(self, request: Request) -> Response:
        owner = self.owner(request)
        if request.query_params.get("expand") == "1":
            return ok(fragments=[fragment.to_json() for fragment in self.storage.all(owner)])
        return ok(fragments=self.storage.ids(owner))

    async def read(self, request: Request) -> Response:
        owner = self.owner(request)
        fragment_id, dot, extension = request.path_params["id"].partition(".")
        fragment = self.find(owner, fragment_id)
        data = self.storage.data(owner, fragment_id) or b""
        if not dot:
            return Response(data, media_type=fragment.type)
        target = convert.target_for(extension)
        if target is None or not convert.can_convert(fragment.type, target):
            return error(415, f"a {convert.media_type(fragment.type)} fragment cannot be fetched as .{extension}")
        try:
            converted, content_type = convert.convert(data, fragment.type, target)
        except convert.ConversionError as exc:
            return error(415, str(exc))
        return Response(converted, media_type=content_type)

    async def info(self, request: Request) -> Response:
        owner = self.owner(request)
        return ok(fragment=self.find(owner, request.path_params["id"]).to_json())

    async def update(self, request: Request) -> Response:
        owner = self.owner(request)
        fragment = self.find(owner, request.path_params["id"])
        content_type = request.headers.get("content-type", "")
        if convert.media_type(content_type) != convert.media_type(fragment.type):
            return error(400, f"a fragment's type cannot change: it is {convert.media_type(fragment.type)}")
        data = await self.body(request)
        updated = fragment.with_data(content_type, len(data), now())
        self.storage.save(updated, data)
        return ok(fragment=updated.to_json())

    async def delete(self, request: Request) -> Response:
        owner = self.owner(request)
        if not self.storage.delete(owner, request.path_params["id"]):
            raise HTTPException(404, f"no fragment {request.path_params['id']}")
        return ok()


async def http_error(request: Request, exc: HTTPException) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="fragments"'} if exc.status_code == 401 else None
    message = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else "not found"
    return error(exc.status_code, message, headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error")
    return error(500, "internal server error")


class RequestLog:
    """Give each request an id (X-Request-Id in or a new one), echo it, log one line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:128]
        rid = incoming or uuid.uuid4().hex
        token = logs.request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info("request", extra={"fields": {
                "method": scope["method"], "path": scope["path"], "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2)}})
            logs.request_id.reset(token)


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    if storage is None:
        storage = SQLiteStorage(settings.sqlite_path) if settings.storage == "sqlite" else MemoryStorage()
    users = Htpasswd.load(settings.htpasswd_file) if settings.htpasswd_file else None
    if users is None:
        log.warning("HTPASSWD_FILE is not set: every /v1 request will be refused")
    api = Api(settings, storage, users)
    app = Starlette(
        routes=[
            Route("/", api.health, methods=["GET"]),
            Route("/v1/fragments", api.create, methods=["POST"]),
            Route("/v1/fragments", api.list, methods=["GET"]),
            Route("/v1/fragments/{id}/info", api.info, methods=["GET"]),
            Route("/v1/fragments/{id}", api.read, methods=["GET"]),
            Route("/v1/fragments/{id}", api.update, methods=["PUT"]),
            Route("/v1/fragments/{id}", api.delete, methods=["DELETE"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.add_middleware(RequestLog)
    return app
