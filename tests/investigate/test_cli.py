"""`kubetrainer investigate --alert FILE.json`: a table or JSON over an index; mistakes are one line, exit 2.
(`--alertmanager-url` runs against a real Alertmanager in test_alertmanager_e2e.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from tests.investigate.conftest import SampleIndex
from tests.investigate.test_alerts import alert, webhook
from tests.serve.servers import free_port


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "investigate", *args])
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def test_an_alert_file_is_investigated_as_a_table_and_as_json(sample_index: SampleIndex, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    pod = sample_index.oom_pod.name
    labels = {"alertname": "KubePodCrashLooping", "namespace": "ml-training", "pod": pod}
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(webhook(alert(labels=labels), alert(labels={**labels, "alertname": "Other"},
                                                                   fingerprint="beef"))))
    code, out, _ = run(capsys, tmp_path, "--alert", str(path), "--index", str(sample_index.directory), "--json")
    assert code == 0
    first, second = json.loads(out)
    assert first["alert"] == "KubePodCrashLooping" and "OOMKilled" in first["cause"] and first["citations"]
    assert second["fingerprint"] == "beef"
    path.write_text(json.dumps({"labels": labels, "startsAt": "2026-03-14T11:50:00Z"}))  # one bare alert
    code, out, err = run(capsys, tmp_path, "--alert", str(path), "--index", str(sample_index.directory))
    flat = " ".join(out.split())
    assert code == 0 and "KubePodCrashLooping" in flat and "OOMKilled" in flat and "[1] " in flat
    assert "1 alert(s) investigated" in err


@pytest.mark.parametrize(("args", "message"), [
    ([], "exactly one of --alertmanager-url URL or --alert FILE.json"),
    (["--alert", "a.json", "--alertmanager-url", "http://x"], "exactly one of"),
    (["--alert", "a.json", "--label", "a=b"], "--label: --label filters Alertmanager's alerts"),
    (["--alertmanager-url", "http://127.0.0.1:1", "--label", "severity"], "--label: not a label matcher"),
])
def test_mistakes_are_one_line(args: list[str], message: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, tmp_path, *args)
    assert code == 2 and message in err


def test_bad_files_and_an_unreachable_alertmanager_are_named(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(webhook(alert(startsAt="later"))))
    code, _, err = run(capsys, tmp_path, "--alert", str(path))
    assert code == 2 and f"{path}: alerts[0].startsAt: not an RFC 3339 timestamp" in err
    path.write_text("{")
    assert run(capsys, tmp_path, "--alert", str(path))[0] == 2
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, tmp_path, "--alertmanager-url", url)
    assert code == 2 and f"{url}/api/v2/alerts: cannot reach Alertmanager" in err
