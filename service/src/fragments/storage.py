"""Where fragments live: in memory (default) or in a SQLite file that outlives the container."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass, replace
from typing import Protocol


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
