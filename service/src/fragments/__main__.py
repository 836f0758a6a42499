"""Run the service with uvicorn, configured from the environment."""

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "fragments.app:create_app",
        factory=True,
        host="0.0.0.0",  # noqa: S104 - a container's port is only reachable where it is published
        port=int(os.environ.get("PORT", "8080")),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
