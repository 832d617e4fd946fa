"""A failing container's images and env settings, quoted from its pod's record as how it is configured."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.rag.chunk import Chunk

from .cluster import container, log, pod

# go-redis after a Sentinel failover: the client still writes to the old primary, now a replica.
READONLY = "2026/03/14 11:34:02 add item failed: READONLY You can't write against a read only replica."
ENV = [{"name": "REDIS_ADDR", "value": "cart-redis-node-0.cart-redis-headless.carts.svc:6379"},
       {"name": "REDIS_PASSWORD", "value": "s3cr3t-value"}, {"name": "REDIS_DB", "value": "0"}]
IMAGES = "images registry.example.com/app:1.0"  # the release the pod runs
SETTINGS = ("env app: REDIS_ADDR=cart-redis-node-0.cart-redis-headless.carts.svc:6379, REDIS_PASSWORD (value withheld), "
            "REDIS_DB=0")


def test_a_failing_container_is_quoted_with_its_settings_and_the_answer_cites_its_pods_record():
    record = pod("basket-1", "carts", containers=[container(ready=True)], env=ENV)
    found = diagnose([record, log("basket-1", READONLY, "carts")])
    failing = next(finding for finding in found if finding.rule == "redis-readonly")
    assert [item.text for item in failing.settings] == [IMAGES, SETTINGS]
    chunk = Chunk(record["message"], "object", namespace="carts", name="basket-1")
    sources = Sources([], [chunk])
    text = compose([failing], sources).text
    assert f'How it is configured:\n- "{IMAGES}" [2]\n- "{SETTINGS}" [2]' in text
    assert sources.holds(2, SETTINGS) and sources.holds(2, IMAGES) and "s3cr3t" not in text


def test_a_container_whose_image_was_never_pulled_has_no_settings_to_quote():
    pulling = container(waiting=("ImagePullBackOff", 'Back-off pulling image "registry.example.com/app:1.1"'))
    found = diagnose([pod("basket-2", "carts", containers=[pulling], env=ENV)])
    assert [finding.settings for finding in found if finding.rule == "image-pull"] == [[]]


def test_a_container_without_settings_gets_its_images_only():
    found = diagnose([pod("basket-3", "carts", containers=[container(ready=True)]), log("basket-3", READONLY, "carts")])
    assert [[item.text for item in finding.settings] for finding in found] == [[IMAGES]]


def test_the_diagnose_table_shows_how_a_failing_container_is_configured(tmp_path, capsys):
    from kubetrainer.cli import main
    from kubetrainer.records import write_jsonl

    records = tmp_path / "records.jsonl"
    write_jsonl(records, [pod("basket-1", "carts", containers=[container(ready=True)], env=ENV),
                          log("basket-1", READONLY, "carts")])
    assert main(["diagnose", "--from", str(records)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert 'configured: "env app: REDIS_ADDR=cart-redis-node-0' in out and "s3cr3t" not in out


def test_a_pods_images_are_read_back_before_its_settings():
    from kubetrainer.diagnose.rollouts import IMAGES

    record = pod("basket-1", "carts", containers=[container(ready=True)], env=ENV)
    assert IMAGES.search(record["message"])["images"] == "registry.example.com/app:1.0"
    assert IMAGES.search(pod("basket-2", "carts")["message"])["images"] == "registry.example.com/app:1.0"
