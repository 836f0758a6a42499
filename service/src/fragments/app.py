"""HTTP routes of the fragments service (see FRAGMENTS-API.md for the contract)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import datetime, timezone

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import convert, logs
from .auth import (Cognito, CognitoUnavailable, FailedLogins, Htpasswd, basic_credentials, bearer_token, client_address,
                   owner_id, tls_context)
from .config import Settings
from .storage import AwsStorage, Fragment, MemoryStorage, SQLiteStorage, Storage, StorageUnavailable

log = logging.getLogger("fragments")


def ok(status_code: int = 200, headers: dict[str, str] | None = None, **body) -> JSONResponse:
    return JSONResponse({"status": "ok", **body}, status_code=status_code, headers=headers)


def error(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "error": {"code": status_code, "message": message}},
                        status_code=status_code, headers=headers)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def drain(request: Request, bound: int) -> None:
    """Read and drop what is left of a refused request's body, up to `bound` bytes, so that
    a client still sending it reads the answer rather than a broken pipe."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > bound:
                return
    except RuntimeError:  # the stream was read already
        return


class Api:
    def __init__(self, settings: Settings, storage: Storage, users: Htpasswd | None, cognito: Cognito | None):
        self.settings = settings
        self.storage = storage
        self.users = users
        self.cognito = cognito
        # bcrypt releases the GIL: one thread per core checks passwords side by side.
        self.bcrypt_threads = anyio.CapacityLimiter(max(1, len(os.sched_getaffinity(0))))
        self.bcrypt_waiting = 0
        self.failed_logins = FailedLogins(settings.login_failures_per_minute)

    # --- helpers -----------------------------------------------------------------
    async def owner(self, request: Request) -> str:
        header = request.headers.get("authorization")
        if self.cognito is not None:
            token = bearer_token(header)
            try:
                user = await run_in_threadpool(self.cognito.user, token) if token else None
            except CognitoUnavailable:
                log.exception("cannot fetch the user pool's keys")
                raise HTTPException(503, "tokens cannot be checked now: the user pool's keys are out of reach")
            if not user:
                raise HTTPException(401, "authentication required")
            return owner_id(user)
        credentials = basic_credentials(header)
        if credentials is None or self.users is None:
            raise HTTPException(401, "authentication required")
        if not self.users.remembered(*credentials):
            # A client address that failed too often this minute is refused before any bcrypt.
            address = client_address(request.headers.get("x-forwarded-for"),
                                     request.client.host if request.client else None, self.settings.forwarded_hops)
            wait = self.failed_logins.wait(address)
            if wait:
                raise HTTPException(429, "too many failed logins from this address: try again later",
                                    headers={"Retry-After": str(int(wait) + 1)})
            # bcrypt in a few threads of its own, never on the event loop: wrong passwords
            # cannot stall the health check or other users' requests; past a queue of
            # waiting checks, more are refused at once rather than piling up.
            if self.bcrypt_waiting >= self.settings.max_waiting_logins:
                raise HTTPException(429, "too many logins being checked: try again in a moment")
            self.bcrypt_waiting += 1
            self.failed_logins.failed(address)  # counted from the start: forgiven if it succeeds
            try:
                valid = await anyio.to_thread.run_sync(self.users.check, *credentials, limiter=self.bcrypt_threads)
            finally:
                self.bcrypt_waiting -= 1
            if not valid:
                raise HTTPException(401, "authentication required")
            self.failed_logins.forgive(address)
        return owner_id(credentials[0])

    async def body(self, request: Request) -> bytes:
        limit, bound = self.settings.max_body_bytes, self.settings.max_discard_bytes
        too_large = HTTPException(413, f"fragment larger than {limit} bytes")
        declared = request.headers.get("content-length", "")
        declared = int(declared) if declared.isdigit() else None
        if declared is not None and declared > bound:
            raise too_large  # more than is worth reading: answered at once
        chunks, size, over = [], 0, declared is not None and declared > limit
        async for chunk in request.stream():
            size += len(chunk)
            if over or size > limit:
                # Read the rest and drop it, so that the client reads the answer.
                over = True
                if size > bound:
                    break
                continue
            chunks.append(chunk)
        if over:
            raise too_large
        return b"".join(chunks)

    async def find(self, owner: str, fragment_id: str) -> Fragment:
        fragment = await run_in_threadpool(self.storage.get, owner, fragment_id)
        if fragment is None:
            raise HTTPException(404, f"no fragment {fragment_id}")
        return fragment

    def location(self, request: Request, fragment_id: str) -> str:
        base = self.settings.api_url or f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        return f"{base}/v1/fragments/{fragment_id}"

    # --- routes ------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        # The storage's readiness is kept a short while (AwsStorage.READY_FOR): probes every
        # few seconds cost AWS no more than a call or two per period.
        problem = await run_in_threadpool(self.storage.ready)
        if problem:
            return error(503, f"storage not ready: {problem}", headers={"Cache-Control": "no-cache"})
        return ok(
            author="fragments-deploy",
            # Where the image's source is published, as its release labelled it.
            githubUrl=self.settings.source_url or "unknown",
            version=self.settings.version,
            gitSha=self.settings.git_sha,
            headers={"Cache-Control": "no-cache"},
        )

    async def create(self, request: Request) -> Response:
        owner = await self.owner(request)
        content_type = request.headers.get("content-type", "")
        if not convert.is_supported(content_type):
            raise HTTPException(415, f"unsupported fragment type {content_type or '(none)'!r}")
        data = await self.body(request)
        stamp = now()
        fragment = Fragment(id=str(uuid.uuid4()), ownerId=owner, created=stamp, updated=stamp,
                            type=content_type, size=len(data))
        await run_in_threadpool(self.storage.save, fragment, data)
        return ok(201, headers={"Location": self.location(request, fragment.id)}, fragment=fragment.to_json())

    async def list(self, request: Request) -> Response:
        owner = await self.owner(request)
        if request.query_params.get("expand") == "1":
            return ok(fragments=[fragment.to_json() for fragment in await run_in_threadpool(self.storage.all, owner)])
        return ok(fragments=await run_in_threadpool(self.storage.ids, owner))

    async def read(self, request: Request) -> Response:
        owner = await self.owner(request)
        fragment_id, dot, extension = request.path_params["id"].partition(".")
        fragment = await self.find(owner, fragment_id)
        data = await run_in_threadpool(self.storage.data, owner, fragment_id) or b""
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
        owner = await self.owner(request)
        return ok(fragment=(await self.find(owner, request.path_params["id"])).to_json())

    async def update(self, request: Request) -> Response:
        owner = await self.owner(request)
        fragment = await self.find(owner, request.path_params["id"])
        content_type = request.headers.get("content-type", "")
        if convert.media_type(content_type) != convert.media_type(fragment.type):
            raise HTTPException(400, f"a fragment's type cannot change: it is {convert.media_type(fragment.type)}")
        data = await self.body(request)
        updated = fragment.with_data(content_type, len(data), now())
        await run_in_threadpool(self.storage.save, updated, data)
        return ok(fragment=updated.to_json())

    async def delete(self, request: Request) -> Response:
        owner = await self.owner(request)
        if not await run_in_threadpool(self.storage.delete, owner, request.path_params["id"]):
            raise HTTPException(404, f"no fragment {request.path_params['id']}")
        return ok()

    async def storage_error(self, request: Request, exc: StorageUnavailable) -> Response:
        """Logged where it happened (storage.py); the client is told to come back."""
        await drain(request, self.settings.max_discard_bytes)
        return error(503, f"storage unavailable: {exc}", headers={"Retry-After": "1"})

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        await drain(request, self.settings.max_discard_bytes)
        scheme = "Bearer" if self.cognito is not None else "Basic"
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = f'{scheme} realm="fragments"'
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


def make_storage(settings: Settings) -> Storage:
    if settings.storage == "aws":
        return AwsStorage(settings.s3_bucket, settings.dynamodb_table, settings.aws_region,
                          settings.s3_endpoint_url, settings.dynamodb_endpoint_url)
    if settings.storage == "sqlite":
        return SQLiteStorage(settings.sqlite_path)
    return MemoryStorage()


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    if storage is None:
        storage = make_storage(settings)
    users = Htpasswd.load(settings.htpasswd_file) if settings.htpasswd_file else None
    cognito = (Cognito(settings.cognito_issuer, settings.cognito_client_id, settings.cognito_jwks_url,
                       settings.jwks_refetch_after, tls_context(settings.ca_file)) if settings.cognito_pool_id else None)
    if users is None and cognito is None:
        log.warning("neither HTPASSWD_FILE nor AWS_COGNITO_POOL_ID is set: every /v1 request will be refused")
    api = Api(settings, storage, users, cognito)
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
        exception_handlers={HTTPException: api.http_error, StorageUnavailable: api.storage_error, Exception: server_error},
    )
    app.add_middleware(RequestLog)
    return app
