"""Kubernetes: placing and submitting training jobs, following them, and the TrainingJob operator.

`placement` and `manifests` are pure (inventory in, placement and manifests out);
`client` is the one thin adapter over the official Kubernetes client.
"""
