"""Readers that turn what a cluster knows into schema-v1 records, redacted before anything is kept.

One module per input: `dump` (kubectl cluster-info dump), `api` (live cluster),
`cri` (/var/log/pods), `files` (manifests, runbooks, plain logs), agent JSONL
through `kubetrainer.records.iter_jsonl`; `auto.records_from_path` picks one.
"""
