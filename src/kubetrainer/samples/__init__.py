"""Realistic sample Kubernetes objects and clusters for tests, demos and benchmarks."""
