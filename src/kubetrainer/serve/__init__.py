"""`kubetrainer serve`: an OpenAI-compatible API over the local model, with RAG,
ingest of the agent's records, a shared cache, Prometheus metrics and an MCP server.

Build the app with `kubetrainer.serve.app.create_app(ServeConfig(...))`; the CLI
(`kubetrainer serve`) only parses options and runs it on uvicorn.
"""
