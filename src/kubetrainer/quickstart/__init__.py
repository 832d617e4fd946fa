"""`kubetrainer quickstart`: the seed's whole workflow on the embedded default, offline.

The quickstart is a script of ordinary `kubetrainer` commands (see `plan.py`): each step
runs the same code a user would, prints the command that re-runs it alone, and is
skipped on the next run when its outputs are still there.
"""
