"""KubeTrainer: model intelligence for the Kubernetes clusters people already run."""

__version__ = "0.1.0"
