"""One small cache interface for answers and embeddings: in-process LRU or shared Redis.

Replicas behind one Service answer the same questions; with `--redis` they share
one cache, so a question answered by one replica is a hit on every other. Keys are
content hashes of everything that determines the value (model, adapters, index,
request), so a hit is always an exact match.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Protocol

KEY_PREFIX = "kubetrainer:"


def content_key(namespace: str, *parts: Any) -> str:
    """A stable key: the namespace and a SHA-256 of the parts as canonical JSON."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode())
    return f"{KEY_PREFIX}{namespace}:{digest.hexdigest()}"


class Cache(Protocol):
    """Bytes by key; a backend may forget anything at any time."""

    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...

    def ping(self) -> bool: ...


class LruCache:
    """Thread-safe in-process LRU with a bound on the number of entries."""

    backend = "memory"

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def ping(self) -> bool:
        return True


class RedisCache:
    """Redis with a TTL per entry; shared by every replica pointed at the same URL."""

    backend = "redis"

    def __init__(self, url: str, ttl_s: int) -> None:
        import redis

        self.ttl_s = ttl_s
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> bytes | None:
        return self._client.get(key)

    def set(self, key: str, value: bytes) -> None:
        self._client.set(key, value, ex=self.ttl_s)

    def ping(self) -> bool:
        import redis

        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False


def make_cache(redis_url: str | None, max_entries: int, ttl_s: int) -> Cache:
    """Redis when a URL is given, else the in-process LRU."""
    return RedisCache(redis_url, ttl_s) if redis_url else LruCache(max_entries)
