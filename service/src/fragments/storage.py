"""Where fragments live: in AWS (bytes in S3, metadata in DynamoDB) wherever the project
deploys the service; in a SQLite file on one host; in memory for tests."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Protocol

log = logging.getLogger("fragments")


class StorageUnavailable(Exception):
    """The storage did not answer or refused the call: the request answers 503. The message
    names the bucket or table and what it said, never the data."""


@dataclass(frozen=True)
class Fragment:
    id: str
    ownerId: str  # noqa: N815 - the wire name
    created: str
    updated: str
    type: str
    size: int

    def to_json(self) -> dict:
        return asdict(self)

    def with_data(self, content_type: str, size: int, updated: str) -> Fragment:
        return replace(self, type=content_type, size=size, updated=updated)


class Storage(Protocol):
    def save(self, fragment: Fragment, data: bytes) -> None: ...
    def get(self, owner: str, fragment_id: str) -> Fragment | None: ...
    def data(self, owner: str, fragment_id: str) -> bytes | None: ...
    def ids(self, owner: str) -> list[str]: ...
    def all(self, owner: str) -> list[Fragment]: ...
    def delete(self, owner: str, fragment_id: str) -> bool: ...
    def ready(self) -> str | None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[Fragment, bytes]] = {}
        self._lock = threading.Lock()

    def save(self, fragment: Fragment, data: bytes) -> None:
        with self._lock:
            self._items[(fragment.ownerId, fragment.id)] = (fragment, data)

    def get(self, owner: str, fragment_id: str) -> Fragment | None:
        item = self._items.get((owner, fragment_id))
        return item[0] if item else None

    def data(self, owner: str, fragment_id: str) -> bytes | None:
        item = self._items.get((owner, fragment_id))
        return item[1] if item else None

    def all(self, owner: str) -> list[Fragment]:
        with self._lock:
            found = [fragment for (who, _), (fragment, _) in self._items.items() if who == owner]
        return sorted(found, key=lambda fragment: fragment.created)

    def ids(self, owner: str) -> list[str]:
        return [fragment.id for fragment in self.all(owner)]

    def delete(self, owner: str, fragment_id: str) -> bool:
        with self._lock:
            return self._items.pop((owner, fragment_id), None) is not None

    def ready(self) -> str | None:
        return None


class SQLiteStorage:
    """One table, one connection guarded by a lock: requests are short and local."""

    _COLUMNS = "id, owner_id, created, updated, type, size"

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS fragments (owner_id TEXT NOT NULL, id TEXT NOT NULL,"
            " created TEXT NOT NULL, updated TEXT NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL,"
            " data BLOB NOT NULL, PRIMARY KEY (owner_id, id))"
        )
        self._lock = threading.Lock()

    def save(self, fragment: Fragment, data: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO fragments (owner_id, id, created, updated, type, size, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fragment.ownerId, fragment.id, fragment.created, fragment.updated, fragment.type,
                 fragment.size, data),
            )

    def get(self, owner: str, fragment_id: str) -> Fragment | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM fragments WHERE owner_id = ? AND id = ?",  # noqa: S608
                (owner, fragment_id),
            ).fetchone()
        return Fragment(*row) if row else None

    def data(self, owner: str, fragment_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM fragments WHERE owner_id = ? AND id = ?", (owner, fragment_id)
            ).fetchone()
        return bytes(row[0]) if row else None

    def all(self, owner: str) -> list[Fragment]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM fragments WHERE owner_id = ? ORDER BY created",  # noqa: S608
                (owner,),
            ).fetchall()
        return [Fragment(*row) for row in rows]

    def ids(self, owner: str) -> list[str]:
        return [fragment.id for fragment in self.all(owner)]

    def delete(self, owner: str, fragment_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM fragments WHERE owner_id = ? AND id = ?", (owner, fragment_id))
        return cursor.rowcount > 0

    def ready(self) -> str | None:
        return None


class AwsStorage:
    """Fragment bytes in an S3 bucket (key <ownerId>/<id>), metadata in a DynamoDB table
    (partition key ownerId, sort key id), as the fragments course keeps them. Data is
    written before its metadata and deleted after it, so that a crash between the two
    leaves at most an object nobody lists, never metadata pointing at nothing."""

    # How long a readiness answer is kept: health probes (every few seconds, from Docker,
    # the deploy's gate and the load balancer) cost AWS two calls per period at most.
    READY_FOR = 30.0
    NOT_READY_FOR = 2.0

    def __init__(self, bucket: str, table: str, region: str, s3_endpoint: str | None = None,
                 dynamodb_endpoint: str | None = None) -> None:
        import boto3  # only this backend needs it (~0.3 s to import)
        from botocore.config import Config

        config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
        self.bucket, self.table = bucket, table
        self._s3 = boto3.client("s3", region_name=region, endpoint_url=s3_endpoint, config=config)
        self._db = boto3.client("dynamodb", region_name=region, endpoint_url=dynamodb_endpoint, config=config)
        self._ready: tuple[float, str | None] = (0.0, "not checked yet")
        self._ready_lock = threading.Lock()

    @staticmethod
    def _key(owner: str, fragment_id: str) -> str:
        return f"{owner}/{fragment_id}"

    def _call(self, what: str, call, absent: tuple[str, ...] = (), **kwargs):
        """One AWS call; None where it answered one of the `absent` error codes; any other
        failure becomes StorageUnavailable naming `what`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code in absent:
                return None
            message = f"{what}: {code} ({exc.operation_name})"
            log.warning("storage refused a call", extra={"fields": {"storage": message}})
            raise StorageUnavailable(message) from exc
        except BotoCoreError as exc:
            message = f"{what}: {type(exc).__name__} ({exc})"
            log.warning("storage out of reach", extra={"fields": {"storage": message}})
            raise StorageUnavailable(message) from exc

    @property
    def _where_bytes(self) -> str:
        return f"S3 bucket {self.bucket}"

    @property
    def _where_metadata(self) -> str:
        return f"DynamoDB table {self.table}"

    @staticmethod
    def _item(fragment: Fragment) -> dict:
        return {"ownerId": {"S": fragment.ownerId}, "id": {"S": fragment.id}, "created": {"S": fragment.created},
                "updated": {"S": fragment.updated}, "type": {"S": fragment.type}, "size": {"N": str(fragment.size)}}

    @staticmethod
    def _fragment(item: dict) -> Fragment:
        return Fragment(id=item["id"]["S"], ownerId=item["ownerId"]["S"], created=item["created"]["S"],
                        updated=item["updated"]["S"], type=item["type"]["S"], size=int(item["size"]["N"]))

    def save(self, fragment: Fragment, data: bytes) -> None:
        self._call(self._where_bytes, self._s3.put_object, Bucket=self.bucket,
                   Key=self._key(fragment.ownerId, fragment.id), Body=data, ContentType=fragment.type)
        self._call(self._where_metadata, self._db.put_item, TableName=self.table, Item=self._item(fragment))

    def get(self, owner: str, fragment_id: str) -> Fragment | None:
        answer = self._call(self._where_metadata, self._db.get_item, TableName=self.table, ConsistentRead=True,
                            Key={"ownerId": {"S": owner}, "id": {"S": fragment_id}})
        return self._fragment(answer["Item"]) if "Item" in answer else None

    def data(self, owner: str, fragment_id: str) -> bytes | None:
        answer = self._call(self._where_bytes, self._s3.get_object, absent=("NoSuchKey", "404"),
                            Bucket=self.bucket, Key=self._key(owner, fragment_id))
        return None if answer is None else self._call(self._where_bytes, answer["Body"].read)

    def all(self, owner: str) -> list[Fragment]:
        found, start = [], None
        while True:
            page = self._call(self._where_metadata, self._db.query, TableName=self.table, ConsistentRead=True,
                              KeyConditionExpression="ownerId = :owner",
                              ExpressionAttributeValues={":owner": {"S": owner}},
                              **({"ExclusiveStartKey": start} if start else {}))
            found += [self._fragment(item) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(found, key=lambda fragment: fragment.created)

    def ids(self, owner: str) -> list[str]:
        return [fragment.id for fragment in self.all(owner)]

    def delete(self, owner: str, fragment_id: str) -> bool:
        answer = self._call(self._where_metadata, self._db.delete_item, TableName=self.table, ReturnValues="ALL_OLD",
                            Key={"ownerId": {"S": owner}, "id": {"S": fragment_id}})
        if "Attributes" not in answer:
            return False
        self._call(self._where_bytes, self._s3.delete_object, Bucket=self.bucket, Key=self._key(owner, fragment_id))
        return True

    def ready(self) -> str | None:
        """None when the bucket and the table answer, else what is wrong (kept a short while)."""
        with self._ready_lock:
            checked, problem = self._ready
            if time.monotonic() - checked < (self.READY_FOR if problem is None else self.NOT_READY_FOR):
                return problem
            try:
                self._call(self._where_bytes, self._s3.head_bucket, Bucket=self.bucket)
                self._call(self._where_metadata, self._db.describe_table, TableName=self.table)
                problem = None
            except StorageUnavailable as exc:
                problem = str(exc)
            self._ready = (time.monotonic(), problem)
            return problem
