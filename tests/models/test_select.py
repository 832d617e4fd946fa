"""Budgets and selection: sizes, the detected hardware, and plausible choices for common GPUs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.errors import UserError
from kubetrainer.hardware import LocalGpu, LocalMachine, inventory_from_path
from kubetrainer.hardware.detect import Detection
from kubetrainer.models.catalog import find, load_catalog
from kubetrainer.models.hardware_budget import CPU_NOTE, Budget, from_detection, from_inventory, override, parse_size
from kubetrainer.models.select import judge, select, workload_for
from kubetrainer.samples.nodes import sample_nodes

GIB = 2**30
CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("text", "size"),
    [("24GiB", 24 * GIB), ("24G", 24 * GIB), ("24gi", 24 * GIB), ("24", 24 * GIB), ("80GB", 80 * 10**9),
     ("512MiB", 512 * 2**20), ("1.5TiB", int(1.5 * 2**40)), ("1000B", 1000)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "24 GiBs", "-3G", "0"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_size(text)
    assert caught.value.where == "--gpu-memory"


def choose(task: str, memory: str, gpus: int = 1, **options: object):
    return select(task, [override(memory, gpus)], CATALOG, **options).chosen


@pytest.mark.parametrize(
    ("task", "memory", "gpus", "low", "high"),
    [
        ("inference", "16GiB", 1, 3e9, 8e9),  # a 7B-class model at bf16 barely fits, or a 4B one
        ("inference", "24GiB", 1, 7e9, 10e9),
        ("inference", "80GiB", 1, 30e9, 35e9),  # Qwen2.5-32B in bf16
        ("inference", "80GiB", 8, 70e9, 80e9),  # the 70B class, sharded
        ("qlora", "24GiB", 1, 13e9, 16e9),
        ("qlora", "80GiB", 8, 70e9, 80e9),  # one GPU, whatever the node has
        ("lora", "24GiB", 1, 7e9, 9e9),
        ("full", "80GiB", 1, 2e9, 4e9),  # 16 + 2 + 4 bytes/param: 80 GiB holds about 3B
        ("full", "80GiB", 8, 14e9, 28e9),  # 22 bytes/param with autocast copies and foreach AdamW
    ],
)
def test_plausible_choices(task: str, memory: str, gpus: int, low: float, high: float) -> None:
    chosen = choose(task, memory, gpus)
    assert chosen is not None and chosen.fits
    assert low <= chosen.spec.params <= high, chosen.spec.name


def test_sharded_tasks_use_the_fewest_devices_they_fit_on() -> None:
    chosen = choose("inference", "80GiB", 8)
    assert 1 < chosen.devices < 8
    assert chosen.per_device_bytes <= override("80GiB", 8).usable_bytes
    assert choose("qlora", "80GiB", 8).devices == 1


def test_gated_models_need_a_token() -> None:
    with_token = choose("inference", "24GiB", allow_gated=True)
    without = select("inference", [override("24GiB")], CATALOG, allow_gated=False)
    assert with_token.spec.gated  # Gemma 2 9B, the biggest that fits
    assert not without.chosen.spec.gated
    skipped = next(c for c in without.candidates if c.spec.hub_id == with_token.spec.hub_id)
    assert not skipped.fits and "HF_TOKEN" in skipped.reason


def test_a_model_that_does_not_fit_says_by_how_much() -> None:
    budget = override("24GiB")
    candidate = judge(find(CATALOG, "llama-3.1-70b"), workload_for("inference", budget), budget)
    assert not candidate.fits
    assert "GiB per device" in candidate.reason and "21.6 GiB usable" in candidate.reason


def test_nothing_fits_a_tiny_device() -> None:
    assert select("full", [override("1GiB")], CATALOG).chosen is None


def test_budgets_from_a_sample_cluster(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps({"kind": "List", "items": sample_nodes()}))
    budgets = from_inventory(inventory_from_path(nodes))
    names = {budget.node for budget in budgets}
    assert "gpu-h100-0" in names and "amd-mi300x-0" in names
    assert "gpu-v100-cordoned-0" not in names and "gpu-t4-notready-0" not in names and "cpu-0" not in names
    selection = select("inference", budgets, CATALOG)
    assert selection.budget.node == "amd-mi300x-0"  # 8 x 192 GB: the most memory on one node
    assert selection.chosen.spec.params > 70e9 and selection.chosen.devices == 1


def _machine(gpus: tuple[LocalGpu, ...] = ()) -> LocalMachine:
    return LocalMachine(hostname="box", cpu_model="cpu", cpu_cores=4, cpu_threads=8, ram_bytes=32 * GIB, gpus=gpus)


def test_cpu_only_host_budgets_its_ram_in_fp32() -> None:
    budgets = from_detection(Detection(local=_machine(), cluster=None))
    assert budgets == [Budget("cpu", 32 * GIB, 1, "CPU RAM of box (32 GiB)", node="box", note=CPU_NOTE)]
    selection = select("lora", budgets, CATALOG)
    assert selection.workload.param_bytes == 4 and selection.workload.device == "cpu"
    assert selection.to_json()["hardware"]["note"] == CPU_NOTE


def test_local_gpus_become_a_budget() -> None:
    gpu = LocalGpu(index=0, vendor="nvidia", name="NVIDIA GeForce RTX 4090", memory_total_mib=24564, source="nvml")
    budgets = from_detection(Detection(local=_machine((gpu, gpu)), cluster=None))
    assert [(b.kind, b.devices, b.device_bytes) for b in budgets] == [("gpu", 2, 24564 * 2**20)]


def test_selection_json_has_the_design_shape() -> None:
    document = select("lora", [override("24GiB")], CATALOG).to_json()
    assert {"task", "hardware", "model", "estimate", "fits", "candidates"} <= set(document)
    assert document["model"]["id"] and document["model"]["params"] > 0
    assert set(document["estimate"]) >= {"total_bytes", "weights_bytes", "kv_cache_bytes", "gradients_bytes",
                                         "optimizer_bytes", "activations_bytes"}
    assert len(document["candidates"]) == len(CATALOG)
    assert json.loads(json.dumps(document)) == document
