"""Cluster diagnosis: what is broken, why, and the lines that prove it. The one home of failure knowledge.

`diagnose(records)` runs every rule over schema-v1 records from any source and returns
`Finding`s (knowledge.py holds the catalogue of failure signatures; pods.py, nodes.py,
workloads.py and logs.py the rules per object; zones.py, ports.py and rollouts.py read objects
together (a volume's zone against the nodes, a pod's containers against each other, a failing
new version against the previous one still serving); changes.py
attaches what changed shortly before each failure (scale-ups, rollouts, preemptions, slow
pulls, rotated Secrets); engine.py merges and links).
"""

from kubetrainer.diagnose.engine import diagnose
from kubetrainer.diagnose.finding import Evidence, Finding

__all__ = ["Evidence", "Finding", "diagnose"]
