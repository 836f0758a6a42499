"""Run the service with uvicorn, configured from the environment. A configuration it cannot
run with (both htpasswd and Cognito users, an unreadable users file, ...) is refused at
start with one line on standard error and exit code 2."""

import os
import sys

import uvicorn

from .app import create_app


def main() -> None:
    try:
        app = create_app()
    except (ValueError, OSError) as exc:
        print(f"fragments: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2)
    uvicorn.run(
        app,
        host="0.0.0.0",  # noqa: S104 - a container's port is only reachable where it is published
        port=int(os.environ.get("PORT", "8080")),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
