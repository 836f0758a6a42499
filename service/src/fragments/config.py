"""Settings from the environment, read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    htpasswd_file: str | None
    api_url: str | None
    log_level: str
    storage: str
    sqlite_path: str
    version: str
    git_sha: str
    max_body_bytes: int = 5 * 1024 * 1024

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        storage = env.get("FRAGMENTS_STORAGE", "memory").lower()
        if storage not in ("memory", "sqlite"):
            raise ValueError(f"FRAGMENTS_STORAGE must be 'memory' or 'sqlite', not {storage!r}")
        return cls(
            htpasswd_file=env.get("HTPASSWD_FILE") or None,
            api_url=(env.get("API_URL") or "").rstrip("/") or None,
            log_level=env.get("LOG_LEVEL", "info").upper(),
            storage=storage,
            sqlite_path=env.get("FRAGMENTS_SQLITE_PATH", "/data/fragments.db"),
            version=env.get("FRAGMENTS_VERSION", "0.0.0"),
            git_sha=env.get("FRAGMENTS_GIT_SHA", "unknown"),
        )
