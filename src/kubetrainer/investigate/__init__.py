"""Alerts in, investigations out: an Alertmanager alert scoped to its objects, diagnosed and answered with citations.

`alerts.py` parses Alertmanager's webhook and API payloads, `scope.py` turns labels into
the findings they name (and their neighbours), `investigation.py` runs the answer engine
over them and holds the lifecycle (opened, updated, closed), `store.py` keeps them in the
data home, `notify.py` posts them to a Slack-compatible webhook, `fetch.py` reads alerts
for the CLI. The server's edge is `serve/alerts.py`; the CLI's is `cli/investigate.py`.
"""
