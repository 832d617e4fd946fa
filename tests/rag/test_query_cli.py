"""`kubetrainer query --kind`: the index's chunk kinds in any case or number; anything else is refused."""

from __future__ import annotations

import json


def test_kind_accepts_case_and_plural_and_refuses_what_no_chunk_is(sample_index, tmp_path, capsys):
    from kubetrainer.cli import main

    home = ["--home", str(tmp_path)]
    assert main([*home, "query", "gpu memory", "--index", str(sample_index), "--kind", "Events", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results and {hit["source"]["kind"] for hit in results} == {"event"}
    assert main([*home, "query", "gpu memory", "--index", str(sample_index), "--kind", "pods"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--kind: 'pods' is not a kind of chunk; expected log | event | object | metric | gpu" in err
