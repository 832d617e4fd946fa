"""The GPU node health dashboard: `router` serves /dashboard (static page) and its JSON API.

    GET /dashboard                 the page (plain HTML/JS/CSS, uPlot vendored: no network needed)
    GET /dashboard/assets/NAME     its static files
    GET /api/gpu/nodes             every GPU node: inventory, newest telemetry, health findings
    GET /api/gpu/telemetry[?node=] time series per node (fleet) or per GPU (one node)

Data comes from a `DashboardSource` set with `configure(app, source)`; an app that
includes the router without configuring it (`kubetrainer serve`) reads the GPU records
under the data home's harvest/ and the inventory named by $KUBETRAINER_DASHBOARD_INVENTORY
(a dump directory or nodes file, or "api"), in a cluster the live API, else only the
nodes the telemetry names. Files are
re-read only when they change, so polling the page costs a stat per file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from kubetrainer.config import Settings, default_settings
from kubetrainer.errors import UserError
from kubetrainer.records import iter_jsonl
from kubetrainer.serve.dashboard_health import (
    GpuSample,
    Thresholds,
    dashboard_view,
    gpu_samples,
    telemetry_series,
    within_window,
)

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
ASSETS = {path.relative_to(STATIC).as_posix(): path for path in STATIC.rglob("*") if path.is_file() and path.name != "dashboard.html"}
MAX_PROBLEMS = 20
INVENTORY_ENV = "KUBETRAINER_DASHBOARD_INVENTORY"


@dataclass
class DashboardSource:
    """Where the dashboard reads: a records directory (JSONL, searched recursively) and an inventory file or dump."""

    records_dir: Path | None
    inventory_path: Path | None = None
    use_api: bool = False  # the live cluster (kubeconfig, or in-cluster credentials)
    kubeconfig: str | None = None
    api_ttl_s: float = 30.0  # list nodes and pods at most this often, however many browsers poll
    window_s: float = 6 * 3600
    thresholds: Thresholds = field(default_factory=Thresholds)
    _files: dict[Path, tuple[tuple[int, int], list[GpuSample], list[str]]] = field(default_factory=dict, repr=False)
    _api_cache: tuple[float, dict, list[str]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardSource:
        """The data home's harvest/; the inventory from $KUBETRAINER_DASHBOARD_INVENTORY (a dump or nodes
        file, or "api"), else the live API when running inside a cluster (the Helm chart's server)."""
        chosen = os.environ.get(INVENTORY_ENV, "").strip()
        in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        inventory_path = Path(chosen).expanduser() if chosen and chosen != "api" else None
        return cls(records_dir=settings.dir("harvest"), inventory_path=inventory_path, use_api=chosen == "api" or (not chosen and in_cluster))

    def inventory(self) -> tuple[dict, list[str]]:
        """The inventory JSON (empty without a source) and what went wrong reading it."""
        if self.inventory_path is not None:
            from kubetrainer.hardware import inventory_from_path

            try:
                return inventory_from_path(self.inventory_path).to_json(), []
            except UserError as error:
                return {"source": None, "nodes": []}, [error.render()]
        if self.use_api:
            return self._api_inventory()
        return {"source": None, "nodes": []}, []

    def _api_inventory(self) -> tuple[dict, list[str]]:
        from kubetrainer.hardware.live import inventory_from_api

        with self._lock:
            if self._api_cache and time.monotonic() - self._api_cache[0] < self.api_ttl_s:
                return self._api_cache[1], self._api_cache[2]
            try:
                inventory, problems = inventory_from_api(self.kubeconfig).to_json(), []
            except UserError as error:  # Unavailable too: keep showing the last inventory we had
                inventory = self._api_cache[1] if self._api_cache else {"source": None, "nodes": []}
                problems = [error.render()]
            self._api_cache = (time.monotonic(), inventory, problems)
            return inventory, problems

    def _read(self, path: Path, signature: tuple[int, int]) -> tuple[list[GpuSample], list[str]]:
        problems: list[str] = []
        try:
            samples = gpu_samples(iter_jsonl(path, on_error=problems.append))
        except (OSError, UserError) as error:  # deleted or rotated between listing and reading
            return [], [f"{path}: {error}"]
        self._files[path] = (signature, samples, problems)
        return samples, problems

    def samples(self) -> tuple[list[GpuSample], list[str]]:
        """GPU samples of every *.jsonl under records_dir within the window, and the lines skipped."""
        if self.records_dir is None or not self.records_dir.is_dir():
            return [], []
        collected: list[GpuSample] = []
        problems: list[str] = []
        with self._lock:
            paths = sorted(self.records_dir.rglob("*.jsonl"))
            for path in set(self._files) - set(paths):
                del self._files[path]
            for path in paths:
                stat = path.stat()
                signature = (stat.st_mtime_ns, stat.st_size)
                cached = self._files.get(path)
                samples, file_problems = cached[1:] if cached and cached[0] == signature else self._read(path, signature)
                collected += samples
                problems += file_problems
        collected.sort(key=lambda sample: sample.ts)
        return within_window(collected, self.window_s), problems


def configure(app: FastAPI, source: DashboardSource) -> None:
    """Point an app's dashboard at `source` (otherwise it reads the data home's harvest/)."""
    app.state.dashboard = source


def _source(request: Request) -> DashboardSource:
    state = request.app.state
    if not hasattr(state, "dashboard"):
        serve = getattr(state, "serve", None)
        home = getattr(getattr(serve, "config", None), "home", None)
        state.dashboard = DashboardSource.from_settings(Settings(home=Path(home)) if home else default_settings())
    return state.dashboard


router = APIRouter(tags=["dashboard"])


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "dashboard.html").read_text(encoding="utf-8"))


@router.get("/dashboard/assets/{name:path}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)  # a fixed list: no path from the URL ever reaches the file system
    if path is None:
        raise HTTPException(status_code=404, detail=f"no dashboard asset {name!r}")
    return FileResponse(path)


@router.get("/api/gpu/nodes", response_class=JSONResponse)
def gpu_nodes(request: Request) -> JSONResponse:
    """Every GPU node with its health; unhealthy nodes first."""
    source = _source(request)
    inventory, inventory_problems = source.inventory()
    samples, record_problems = source.samples()
    problems = inventory_problems + record_problems
    # plain JSON values already: skip FastAPI's recursive encoder, which costs more than the view itself
    return JSONResponse(dashboard_view(inventory, samples, source.thresholds) | {
        "problems": problems[:MAX_PROBLEMS],
        "problems_total": len(problems),
        "window_s": source.window_s,
    })


@router.get("/api/gpu/telemetry", response_class=JSONResponse)
def gpu_telemetry(
    request: Request,
    node: str | None = Query(None, description="one node's GPUs; leave out for one line per node"),
    max_points: int = Query(240, ge=2, le=2000),
) -> JSONResponse:
    """Utilisation, memory, temperature, power, Xid and ECC over time, bucketed to at most max_points."""
    samples, _ = _source(request).samples()
    if node is not None and not any(sample.node == node for sample in samples):
        raise HTTPException(status_code=404, detail=f"no GPU telemetry for node {node!r}")
    return JSONResponse(telemetry_series(samples, node=node, max_points=max_points))


def standalone_app(source: DashboardSource, api_keys: frozenset[str] = frozenset()) -> FastAPI:
    """Just the dashboard, for `kubetrainer dashboard` (no model loaded); its data needs a key when keys are set."""
    from kubetrainer import __version__
    from kubetrainer.serve.access import AccessGate

    app = FastAPI(title="KubeTrainer GPU dashboard", version=__version__)
    app.include_router(router)
    app.add_middleware(AccessGate, keys=api_keys)
    configure(app, source)
    return app
