"""Evaluation: perplexity, question answering and retrieval metrics, and the four-way report.

The metrics are pure functions over strings and numbers; model work (perplexity,
generation) takes an already loaded model, so the whole stage is testable with a
tiny random model, and the CLI is the only place that loads checkpoints.
"""
