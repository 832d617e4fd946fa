"""`kubetrainer serve` (the OpenAI-compatible API) and `kubetrainer mcp` (cluster tools for AI assistants)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE


@app.command()
def serve(
    model: Annotated[Optional[str], typer.Option("--model", help="Model id or directory (default: bundled SmolLM2).")] = None,
    adapter: Annotated[Optional[list[Path]], typer.Option("--adapter", help="PEFT adapter directory; repeatable.")] = None,
    engine: Annotated[str, typer.Option(
        "--engine", help="auto | transformers | llamacpp | vllm. auto: vLLM when vllm is installed and a CUDA GPU is "
        "present; else llama.cpp when llama-cpp-python is installed, the model has a GGUF (the bundled one does), no "
        "GPU and no --adapter; else transformers. vllm runs vLLM's OpenAI server as a child process "
        "($KUBETRAINER_VLLM_COMMAND replaces its command).")] = "auto",
    rag: Annotated[Optional[str], typer.Option(
        "--rag", help="Index NAME under <home>/index/ (default) or a DIR made by `kubetrainer index`.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind; beyond loopback needs --api-key-file.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    api_key_file: Annotated[Optional[Path], typer.Option("--api-key-file", help="Bearer tokens, one per line.")] = None,
    admin_key_file: Annotated[Optional[Path], typer.Option(
        "--admin-key-file", help="Admin bearer tokens, one per line (also $KUBETRAINER_ADMIN_KEY): only these may add "
        "and remove adapters (POST /v1/adapters, DELETE /v1/adapters/NAME).")] = None,
    redis: Annotated[Optional[str], typer.Option("--redis", help="redis://HOST:PORT/DB: cache shared by replicas.")] = None,
    max_concurrency: Annotated[int, typer.Option("--max-concurrency", min=1, help="Generations running at once.")] = 2,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Requests waiting beyond that (then 429).")] = 32,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.001, help="Seconds per request, queue wait included.")] = 120.0,
    metrics_public: Annotated[bool, typer.Option(
        "--metrics-public", help="/metrics without a key from anywhere (default: loopback, or with the key).")] = False,
    alert_webhook_url: Annotated[Optional[str], typer.Option(
        "--alert-webhook-url", envvar="KUBETRAINER_ALERT_WEBHOOK_URL",
        help="Post investigations of alerts from /v1/alerts to this Slack-compatible incoming webhook.")] = None,
) -> None:
    """Serve the model behind an OpenAI-compatible API (chat, completions, embeddings), with RAG when --rag is given."""
    import uvicorn

    from kubetrainer.serve.app import create_app
    from kubetrainer.serve.config import ServeConfig, read_admin_keys, read_api_keys

    config = ServeConfig(
        home=STATE.settings.home, model=model, engine=engine, adapters=tuple(adapter or ()), rag_index=_index(rag), host=host,
        port=port, api_keys=read_api_keys(api_key_file) if api_key_file else frozenset(),
        admin_keys=read_admin_keys(admin_key_file), redis_url=redis,
        max_concurrency=max_concurrency, max_queue=max_queue, timeout_s=timeout, metrics_public=metrics_public,
        alert_webhook_url=alert_webhook_url,
    )
    config.validate()
    application = create_app(config)
    state = application.state.serve
    render.note(f"serving {', '.join(state.lm.model_ids)} with {state.lm.engine_name} on http://{host}:{port}/v1 "
                f"(cache: {state.cache.backend}, RAG: {rag or 'off'}, keys: {'on' if config.api_keys else 'off'}, "
                f"admin key: {'on' if config.admin_keys else 'off'})")
    _exit_cleanly_on_sigterm()
    uvicorn.run(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def _exit_cleanly_on_sigterm() -> None:
    """After a graceful shutdown uvicorn raises the SIGTERM it caught again, under the handler it found: this one
    ends the process through Python's exit rather than the signal's, so exit handlers run (the vLLM engine stops
    its server and process group there)."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda number, _frame: sys.exit(128 + number))


@app.command()
def mcp(
    transport: Annotated[str, typer.Option("--transport", help="stdio or http (streamable HTTP).")] = "stdio",
    rag: Annotated[Optional[str], typer.Option("--rag", help="Index NAME or DIR for the query and ask tools.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model for the ask tool (default: bundled).")] = None,
    cluster: Annotated[Optional[Path], typer.Option("--from", help="Cluster-info dump or nodes file for gpu_inventory.")] = None,
    host: Annotated[str, typer.Option("--host", help="HTTP transport address: loopback only (no auth in MCP here).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
    allow_writes: Annotated[bool, typer.Option(
        "--allow-writes", help="Also offer the tool that changes something (ingest_records); default read-only.")] = False,
) -> None:
    """Run the MCP server: cluster tools (index search, cited answers, GPU inventory, events and logs) for AI assistants."""
    import logging

    from kubetrainer.errors import UserError
    from kubetrainer.serve.config import is_loopback
    from kubetrainer.serve.mcp_server import McpConfig, audit, build_server

    if transport not in ("stdio", "http"):
        raise UserError(f"unknown transport {transport!r}", where="--transport", expected="stdio or http")
    if not is_loopback(host):
        raise UserError(f"refusing to serve MCP over HTTP on {host}", where="--host",
                        expected="a loopback address; put an authenticating proxy in front for remote use")
    audit.setLevel(logging.INFO)  # every tool call on stderr, whatever the CLI's log level
    server = build_server(McpConfig(home=STATE.settings.home, rag_index=_index(rag), model=model,
                                    cluster_source=cluster, allow_writes=allow_writes))
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


def _index(name_or_dir: str | None) -> Path | None:
    """`--rag` as `--index` reads it elsewhere: a name under <home>/index/ (`default`), or a directory."""
    from kubetrainer.rag.index import resolve_index

    return resolve_index(name_or_dir, STATE.settings.dir("index")) if name_or_dir else None
