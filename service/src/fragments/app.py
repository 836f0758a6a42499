"""HTTP routes of the fragments service."""

import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request):
    return JSONResponse(
        {
            "status": "ok",
            "author": "fragments-deploy",
            "githubUrl": "https://example.invalid/fragments-deploy",
            "version": os.environ.get("FRAGMENTS_VERSION", "0.0.0"),
            "gitSha": os.environ.get("FRAGMENTS_GIT_SHA", "unknown"),
        },
        headers={"Cache-Control": "no-cache"},
    )


def create_app() -> Starlette:
    return Starlette(routes=[Route("/", health)])
