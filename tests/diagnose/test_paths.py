"""A file a failing container cannot find, in what its pod's other containers logged about its directory."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.paths import directories

from .cluster import container, log, pod

# Triton's model repository manager when a version directory lacks its model file, then the server's exit.
MISSING = ["E0314 11:58:07.433571 1 model_lifecycle.cc:638] failed to load 'reranker' version 4: Unavailable: unable "
           "to find '/models/reranker/4/model.onnx' for model instance 'reranker'",
           "error: creating server: Internal - failed to load all models"]
# The init container that synced the repository from a bucket (gsutil's copy lines).
SYNCED = ["Copying gs://models-prod/reranker/config.pbtxt to /models/reranker/config.pbtxt",
          "cp gs://models-prod/reranker/3/model.onnx /models/reranker/3/model.onnx",
          "cp gs://models-prod/reranker/4/model.onnx_data /models/reranker/4/model.onnx_data",
          "sync done: 3 objects"]
CRASHING = [container("triton", waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=12)]


def test_directories_of_paths_not_urls():
    assert directories("unable to find '/models/reranker/4/model.onnx' at https://hub.example.com/a/b/c") == [
        "/models/reranker/4/"]
    assert directories("open /etc/app.conf: no such file") == [], "two parts say too little"


def test_a_missing_model_file_quotes_what_the_init_container_copied_into_its_directory():
    records = [pod("reranker-x9n64zsvpk-dwfbg", "ranking", containers=CRASHING),
               *(log("reranker-x9n64zsvpk-dwfbg", line, "ranking", "model-sync", ts=f"2026-03-14T11:57:0{i}Z")
                 for i, line in enumerate(SYNCED)),
               *(log("reranker-x9n64zsvpk-dwfbg", line, "ranking", "triton", ts="2026-03-14T11:58:07Z")
                 for line in MISSING)]
    crash = next(finding for finding in diagnose(records) if finding.container == "triton")
    assert [(item.container, item.text) for item in crash.elsewhere] == [("model-sync", SYNCED[2])]
    text = compose([crash], Sources([])).text
    assert f'The same id or file elsewhere:\n- ranking/reranker-x9n64zsvpk-dwfbg (container model-sync): "{SYNCED[2]}"' in text
