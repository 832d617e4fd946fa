"""Who may see what: the one place the server decides which routes need the API key.

With keys configured, everything that reveals the cluster needs one: the OpenAI API
(/v1/*), the dashboard's data (/api/gpu/*), and the API description (/docs,
/openapi.json), which names every route. Only the probes stay open (/healthz,
/readyz), and the dashboard's page and static assets, which hold no data. /metrics
is open to loopback clients (a sidecar, a port-forward) and needs the key from
anywhere else unless `metrics_public` opens it, like the ecosystem's exporters.
Without keys the server listens on loopback only (`ServeConfig.validate`), so it is open.

Changing what the server serves (adding and removing adapters, `serve.adapters`) needs an admin
key, always: one is configured with `--admin-key-file` or `KUBETRAINER_ADMIN_KEY`, an ordinary key
is refused (403), and without an admin key configured nobody may change adapters (403), as ingest
is refused without keys. An admin key opens every route an API key opens.

Responses name where an excerpt came from without the server's file paths: a path
becomes a stable id and its file name (`public_source`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from kubetrainer.serve.config import is_loopback
from kubetrainer.serve.errors import APIError

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/dashboard"})
OPEN_PREFIXES = ("/dashboard/assets/",)
METRICS_PATH = "/metrics"


class KeyRing:
    """API keys, compared in constant time: every key is checked, digests of equal length."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._digests = tuple(hashlib.sha256(key.encode()).digest() for key in keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, token: str) -> bool:
        offered = hashlib.sha256(token.encode()).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(offered, digest)
        return matched


def bearer_token(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_token(token: str | None, keys: KeyRing) -> None:
    """401 unless `token` is one of the keys (the token itself never appears in the answer)."""
    if token is None:
        raise APIError(401, "missing bearer token: send 'Authorization: Bearer <key>'", code="missing_api_key")
    if not keys.accepts(token):
        raise APIError(401, "incorrect API key provided", code="invalid_api_key")


def check_key(headers: Mapping[str, str], keys: frozenset[str], *, required: bool = False) -> None:
    """For a route that checks on its own (ingest): 401 without a good key, 403 if `required` and none is set."""
    if not keys:
        if required:
            raise APIError(403, "this endpoint needs API keys: start the server with --api-key-file",
                           code="keys_not_configured")
        return
    check_token(bearer_token(headers), KeyRing(keys))


def check_admin(headers: Mapping[str, str], admin_keys: frozenset[str], api_keys: frozenset[str]) -> None:
    """For a route that changes what is served: 401 without a good key, 403 for an ordinary key or with no admin key
    configured."""
    if not admin_keys:
        raise APIError(403, "changing adapters needs an admin key: start the server with --admin-key-file FILE or "
                       "KUBETRAINER_ADMIN_KEY", code="admin_keys_not_configured")
    token = bearer_token(headers)
    if token is not None and not KeyRing(admin_keys).accepts(token) and KeyRing(api_keys).accepts(token):
        raise APIError(403, "this API key may not change adapters: send an admin key", code="admin_key_required")
    check_token(token, KeyRing(admin_keys))


def needs_key(path: str, client_host: str | None, metrics_public: bool) -> bool:
    """Whether a request for `path` from `client_host` must carry a key (when keys are configured)."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return False
    if path == METRICS_PATH:
        return not (metrics_public or (client_host is not None and is_loopback(client_host)))
    return True


class AccessGate:
    """ASGI middleware: answers 401 (OpenAI error shape) before any route runs when a key is missing.

    With API keys configured, an admin key passes too; admin keys alone guard only what `check_admin` guards.
    """

    def __init__(self, app: Any, keys: frozenset[str], metrics_public: bool = False,
                 admin_keys: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.keys = KeyRing(keys | admin_keys if keys else keys)
        self.metrics_public = metrics_public

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and self.keys:
            client = scope.get("client")
            if needs_key(scope["path"], client[0] if client else None, self.metrics_public):
                headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
                try:
                    check_token(bearer_token(headers), self.keys)
                except APIError as error:
                    await _send_error(send, error)
                    return
        await self.app(scope, receive, send)


async def _send_error(send: Callable, error: APIError) -> None:
    from kubetrainer.serve.errors import error_response

    response = error_response(error, headers={"www-authenticate": "Bearer"})
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def public_source(source: dict[str, Any]) -> dict[str, Any]:
    """A hit's `source` without the server's file path: a stable `source_id` and a `source_name` instead."""
    path = source.get("path")
    public = {key: value for key, value in source.items() if key != "path"}
    if path:
        public["source_id"] = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        public["source_name"] = PurePath(str(path)).name
    return public


def public_hit(hit: dict[str, Any]) -> dict[str, Any]:
    """A retrieval hit as responses show it (see `public_source`)."""
    return {**hit, "source": public_source(hit["source"])} if isinstance(hit.get("source"), dict) else hit


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record as responses show it: a `labels.path` (a file on the server) becomes its file name."""
    labels = record.get("labels")
    if not isinstance(labels, dict) or "path" not in labels:
        return record
    return {**record, "labels": {**labels, "path": PurePath(str(labels["path"])).name}}
