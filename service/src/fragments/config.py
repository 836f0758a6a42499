"""Settings from the environment, read once at start."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

COGNITO_POOL = re.compile(r"^([a-z]{2}(-[a-z]+)+-[0-9])_[0-9A-Za-z]+$")


def whole_number(env, name: str, default: int) -> int:
    value = env.get(name, "")
    if value == "":
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number, 0 or more, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    htpasswd_file: str | None
    api_url: str | None
    log_level: str
    storage: str
    sqlite_path: str
    version: str
    git_sha: str
    source_url: str = ""
    aws_region: str | None = None
    s3_bucket: str | None = None
    dynamodb_table: str | None = None
    s3_endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None
    cognito_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_jwks_url: str | None = None
    # One more CA to trust over HTTPS besides the public ones (a lab's own), PEM.
    ca_file: str | None = None
    # A token signed by a key the cached JWKS lacks fetches it again, at most this often.
    jwks_refetch_after: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    # A refused request body is still read (and dropped) up to this size, so that a client
    # sending the whole body reads the answer instead of a broken pipe.
    max_discard_bytes: int = 64 * 1024 * 1024
    # Password checks (bcrypt) waiting for a thread beyond this are refused with 429.
    max_waiting_logins: int = 64
    # Failed logins a client address may make in a minute before it is refused (429); 0: no limit.
    login_failures_per_minute: int = 20
    # Proxies in front that append to X-Forwarded-For (1: the host's nginx; 2: a load balancer too).
    forwarded_hops: int = 1

    @property
    def cognito_issuer(self) -> str | None:
        if not self.cognito_pool_id:
            return None
        region = COGNITO_POOL.match(self.cognito_pool_id).group(1)
        return f"https://cognito-idp.{region}.amazonaws.com/{self.cognito_pool_id}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """The settings, or ValueError with one line saying what to fix."""
        env = os.environ if env is None else env
        bucket, table = env.get("AWS_S3_BUCKET_NAME") or None, env.get("AWS_DYNAMODB_TABLE_NAME") or None
        # AWS wherever its bucket or table is named (the course's convention), else memory.
        storage = env.get("FRAGMENTS_STORAGE", "aws" if bucket or table else "memory").lower()
        if storage not in ("memory", "sqlite", "aws"):
            raise ValueError(f"FRAGMENTS_STORAGE must be 'aws', 'sqlite' or 'memory', not {storage!r}")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        if storage == "aws" and not (bucket and table and region):
            missing = [name for name, value in (("AWS_S3_BUCKET_NAME", bucket), ("AWS_DYNAMODB_TABLE_NAME", table),
                                                ("AWS_REGION", region)) if not value]
            raise ValueError(f"the aws storage needs {', '.join(missing)} (fragment bytes go to the S3 bucket, "
                             "their metadata to the DynamoDB table)")
        pool, client = env.get("AWS_COGNITO_POOL_ID") or None, env.get("AWS_COGNITO_CLIENT_ID") or None
        if bool(pool) != bool(client):
            raise ValueError("set both AWS_COGNITO_POOL_ID and AWS_COGNITO_CLIENT_ID, or neither")
        if pool and not COGNITO_POOL.match(pool):
            raise ValueError(f"AWS_COGNITO_POOL_ID must look like us-east-1_AbC123, not {pool!r}")
        if pool and env.get("HTPASSWD_FILE"):
            raise ValueError("users come either from HTPASSWD_FILE or from Amazon Cognito (AWS_COGNITO_POOL_ID and "
                             "AWS_COGNITO_CLIENT_ID), not both: unset one of them")
        settings = cls(
            htpasswd_file=env.get("HTPASSWD_FILE") or None,
            api_url=(env.get("API_URL") or "").rstrip("/") or None,
            log_level=env.get("LOG_LEVEL", "info").upper(),
            storage=storage,
            sqlite_path=env.get("FRAGMENTS_SQLITE_PATH", "/data/fragments.db"),
            version=env.get("FRAGMENTS_VERSION", "0.0.0"),
            git_sha=env.get("FRAGMENTS_GIT_SHA", "unknown"),
            source_url=env.get("FRAGMENTS_SOURCE_URL", ""),
            aws_region=region,
            s3_bucket=bucket,
            dynamodb_table=table,
            s3_endpoint_url=env.get("AWS_S3_ENDPOINT_URL") or None,
            dynamodb_endpoint_url=env.get("AWS_DYNAMODB_ENDPOINT_URL") or None,
            cognito_pool_id=pool,
            cognito_client_id=client,
            ca_file=env.get("FRAGMENTS_CA_FILE") or None,
            login_failures_per_minute=whole_number(env, "LOGIN_FAILURES_PER_MINUTE", 20),
            forwarded_hops=whole_number(env, "FORWARDED_HOPS", 1),
        )
        if pool:
            # Where the pool's public keys come from: AWS by default; the lab points it at its cloud.
            jwks = env.get("AWS_COGNITO_JWKS_URL") or f"{settings.cognito_issuer}/.well-known/jwks.json"
            settings = cls(**{**settings.__dict__, "cognito_jwks_url": jwks})
        return settings
