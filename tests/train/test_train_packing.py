"""Packing: no attention or loss crosses a sample boundary, and the plan is reproducible."""

from __future__ import annotations

import torch

from kubetrainer.train.packing import collate, head_on_targets, plan_batches, token_loss_sum
from kubetrainer.train.tokenize import IGNORE, TokenizedExample, tokenize_all
from tests.train.tiny import build_model, qa_records


def _examples(tokenizer, count=6):
    return tokenize_all(tokenizer, qa_records(count), max_seq_len=256, train_on_prompt=False)


def test_packed_logits_equal_each_sample_alone(tiny_tokenizer):
    model = build_model(tiny_tokenizer).eval()
    examples = _examples(tiny_tokenizer, 3)
    batch = plan_batches(examples, batch_tokens=10_000, row_tokens=10_000, seed=0, epoch=0)[0]
    assert len(batch.example_indices) == 3
    packed = collate(examples, batch)
    with torch.no_grad():
        packed_logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits[0]
        offset = 0
        for index in batch.example_indices:
            ids = torch.tensor([examples[index].input_ids])
            alone = model(input_ids=ids).logits[0]
            torch.testing.assert_close(packed_logits[offset : offset + ids.shape[1]], alone, atol=1e-5, rtol=1e-4)
            offset += ids.shape[1]


def test_packed_logits_would_differ_without_the_boundaries(tiny_tokenizer):
    """The equality above is not vacuous: plain causal attention over the row changes the second sample."""
    model = build_model(tiny_tokenizer).eval()
    examples = _examples(tiny_tokenizer, 2)
    batch = plan_batches(examples, batch_tokens=10_000, row_tokens=10_000, seed=0, epoch=0)[0]
    packed = collate(examples, batch)
    first = len(examples[batch.example_indices[0]].input_ids)
    with torch.no_grad():
        unmasked = model(input_ids=packed["input_ids"], use_cache=False).logits[0, first:]
        alone = model(input_ids=torch.tensor([examples[batch.example_indices[1]].input_ids])).logits[0]
    assert not torch.allclose(unmasked, alone, atol=1e-3)


def test_loss_never_crosses_a_boundary_and_counts_targets():
    examples = [TokenizedExample([1, 2, 3], [IGNORE, 2, 3]), TokenizedExample([4, 5], [4, 5])]
    batch = plan_batches(examples, batch_tokens=100, row_tokens=100, seed=1, epoch=0)[0]
    packed = collate(examples, batch)
    starts = [0, len(examples[batch.example_indices[0]].input_ids)]
    assert all(packed["labels"][0, start] == IGNORE for start in starts)
    assert packed["position_ids"][0].tolist()[starts[1]] == 0
    assert batch.target_tokens == 3
    head = torch.nn.Linear(4, 8)
    model = torch.nn.Module()
    model.get_output_embeddings = lambda: head
    with head_on_targets(model, packed["labels"]) as target_ids:
        logits = head(torch.zeros(1, 5, 4))
    assert logits.shape == (3, 8) and sorted(target_ids.tolist()) == [2, 3, 5]
    assert torch.isclose(token_loss_sum(torch.zeros(3, 8), target_ids), 3 * torch.log(torch.tensor(8.0)))


def test_head_on_targets_gives_the_full_logits_loss_and_gradients(tiny_tokenizer):
    """Scoring only the target positions changes nothing but the work: same loss, same gradients."""
    examples = _examples(tiny_tokenizer, 4)
    batch = plan_batches(examples, batch_tokens=10_000, row_tokens=80, seed=0, epoch=0)[0]
    packed = collate(examples, batch)
    inputs = {"input_ids": packed["input_ids"], "position_ids": packed["position_ids"], "use_cache": False}

    def loss_and_grads(model, targeted: bool):
        model.zero_grad()
        if targeted:
            with head_on_targets(model, packed["labels"]) as target_ids:
                logits = model(**inputs).logits
        else:
            full = model(**inputs).logits[:, :-1, :]
            scored = packed["labels"][:, 1:] != IGNORE
            logits, target_ids = full[scored], packed["labels"][:, 1:][scored]
        loss = token_loss_sum(logits, target_ids)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    model = build_model(tiny_tokenizer)
    full_loss, full_grads = loss_and_grads(model, targeted=False)
    loss, grads = loss_and_grads(model, targeted=True)
    assert model(**inputs).logits.shape[:2] == packed["input_ids"].shape, "the hook must not outlive the block"
    torch.testing.assert_close(loss, full_loss, rtol=1e-5, atol=1e-5)
    assert len(grads) == len(full_grads)
    for grad, full_grad in zip(grads, full_grads):
        torch.testing.assert_close(grad, full_grad, rtol=1e-4, atol=1e-6)


def test_plan_is_a_function_of_seed_and_epoch_and_respects_the_budget(tiny_tokenizer):
    examples = _examples(tiny_tokenizer, 12)
    plan = plan_batches(examples, batch_tokens=80, row_tokens=40, seed=3, epoch=1)
    assert plan == plan_batches(examples, batch_tokens=80, row_tokens=40, seed=3, epoch=1)
    assert plan != plan_batches(examples, batch_tokens=80, row_tokens=40, seed=3, epoch=2)
    assert sorted(i for batch in plan for i in batch.example_indices) == list(range(12))
    for batch in plan:
        lengths = [len(examples[i].input_ids) for i in batch.example_indices]
        assert sum(lengths) <= 80 or len(lengths) == 1


def test_rows_are_padded_apart_and_still_match_each_sample_alone(tiny_tokenizer):
    model = build_model(tiny_tokenizer).eval()
    examples = _examples(tiny_tokenizer, 5)
    longest = max(len(e.input_ids) for e in examples)
    batch = plan_batches(examples, batch_tokens=10_000, row_tokens=2 * longest + 5, seed=0, epoch=0)[0]
    assert len(batch.rows) > 1 and max(len(row) for row in batch.rows) > 1
    packed = collate(examples, batch)
    with torch.no_grad():
        logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits
    for row_index, row in enumerate(batch.rows):
        offset = 0
        for index in row:
            ids = torch.tensor([examples[index].input_ids])
            with torch.no_grad():
                alone = model(input_ids=ids).logits[0]
            torch.testing.assert_close(logits[row_index, offset : offset + ids.shape[1]], alone, atol=1e-5, rtol=1e-4)
            offset += ids.shape[1]
        assert (packed["labels"][row_index, offset:] == IGNORE).all()
