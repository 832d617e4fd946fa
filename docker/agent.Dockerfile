# The node agent image: one static-ish Rust binary on a minimal base.
# Build from the repository root:  docker build -f docker/agent.Dockerfile -t kubetrainer-agent .
FROM rust:1-bookworm AS build
WORKDIR /src
# The redaction patterns the agent embeds: the one copy, the Python package's data.
COPY src/kubetrainer/schemas ./src/kubetrainer/schemas
COPY cluster_agent ./cluster_agent
RUN cargo build --release --manifest-path cluster_agent/Cargo.toml

# NVML is loaded at run time from the host (NVIDIA runtime class), so the base needs only glibc.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/cluster_agent/target/release/kubetrainer-agent /usr/local/bin/kubetrainer-agent
ENTRYPOINT ["/usr/local/bin/kubetrainer-agent"]
