"""The transformers engine against transformers itself: greedy output, stops, cancellation, sampling,
penalties and log-probabilities, and the repetition guard answers get by default."""

from __future__ import annotations

import threading

import torch

from kubetrainer.answer.phrase import hf_phraser
from kubetrainer.generation.hf import TransformersEngine
from kubetrainer.generation.params import NO_REPEAT_NGRAM, REPETITION_PENALTY, SamplingParams, answer_params
from kubetrainer.generation.respond import responder

MESSAGES = [{"role": "system", "content": "You answer on-call questions."},
            {"role": "user", "content": "Why does web-1 restart?"}]


def _transformers_greedy(engine: TransformersEngine, prompt_ids: list[int], max_new_tokens: int, **options) -> list[int]:
    """`model.generate`'s own greedy decoding, the reference the engine must match."""
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                    do_sample=False, pad_token_id=engine.tokenizer.pad_token_id, **options)
    return [int(token) for token in out[0, len(prompt_ids):]]


def _repeats_an_ngram(tokens: list[int], size: int) -> bool:
    grams = [tuple(tokens[i:i + size]) for i in range(len(tokens) - size + 1)]
    return len(set(grams)) < len(grams)


def test_greedy_output_is_transformers_own_greedy_output(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    expected = _transformers_greedy(hf_engine, prompt, 24)
    generation = hf_engine.generate(prompt, SamplingParams(24, temperature=0))
    assert generation.text == hf_engine.tokenizer.decode(expected, skip_special_tokens=True)
    assert (generation.prompt_tokens, generation.completion_tokens) == (len(prompt), len(expected))
    stream = hf_engine.stream(prompt, SamplingParams(24, temperature=0))
    assert "".join(stream) == generation.text
    assert (stream.completion_tokens, stream.finish_reason) == (generation.completion_tokens, generation.finish_reason)


def test_answers_are_decoded_with_the_repetition_guard_by_default(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    plain = _transformers_greedy(hf_engine, prompt, 32)
    assert _repeats_an_ngram(plain, NO_REPEAT_NGRAM), "plain greedy decoding of this model loops"
    guarded = _transformers_greedy(hf_engine, prompt, 32, no_repeat_ngram_size=NO_REPEAT_NGRAM,
                                   repetition_penalty=REPETITION_PENALTY)
    assert not _repeats_an_ngram(guarded, NO_REPEAT_NGRAM)
    expected = hf_engine.tokenizer.decode(guarded, skip_special_tokens=True).strip()
    assert responder(hf_engine, 32)(MESSAGES) == expected
    assert hf_phraser(hf_engine.model, hf_engine.tokenizer, 32)(MESSAGES) == expected
    assert hf_engine.generate(prompt, answer_params(32)).text.strip() == expected
    assert hf_engine.generate(prompt, SamplingParams(32, temperature=0)).text != hf_engine.generate(
        prompt, answer_params(32)).text, "the API's own parameters carry no guard"


def test_stop_sequences_end_whole_and_streamed_text_and_never_leak(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    whole = hf_engine.generate(prompt, SamplingParams(24, temperature=0)).text
    middle = len(whole) // 2
    stop = next(whole[i:i + 2] for i in range(middle, len(whole)) if whole[i:i + 2].strip() and
                whole.index(whole[i:i + 2]) >= middle)
    params = SamplingParams(24, temperature=0, stop=("never there", stop))
    cut = hf_engine.generate(prompt, params)
    assert cut.text == whole[:whole.index(stop)] and cut.finish_reason == "stop"
    assert cut.completion_tokens < 24, "decoding stops at the stop sequence"
    stream = hf_engine.stream(prompt, params)
    deltas = list(stream)
    assert "".join(deltas) == cut.text and not any(stop in delta for delta in deltas)
    assert stream.finish_reason == "stop" and stream.completion_tokens < 24


def test_cancellation_ends_decoding_between_two_tokens(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    params = SamplingParams(120, temperature=0)
    assert hf_engine.generate(prompt, params).completion_tokens == 120
    cancel = threading.Event()
    cancel.set()
    assert hf_engine.generate(prompt, params, cancel=cancel).completion_tokens == 1
    cancel = threading.Event()
    stream = hf_engine.stream(prompt, params, cancel=cancel)
    for _ in stream:  # a client gone after the first delta
        cancel.set()
    assert stream.completion_tokens < 120 and stream.finish_reason == "length"


def test_a_seed_repeats_its_sample(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    first, again, other = (hf_engine.generate(prompt, SamplingParams(16, temperature=1.0, top_p=0.9, seed=seed)).text
                           for seed in (5, 5, 6))
    assert first == again != other


def test_frequency_and_presence_penalties_are_openais(hf_engine: TransformersEngine) -> None:
    """logit - count * frequency - (count > 0) * presence, counted over the completion only."""
    prompt = hf_engine.chat_ids(MESSAGES)
    frequency, presence, tokens = 1.0, 0.5, []
    with torch.no_grad():
        for _ in range(20):
            logits = hf_engine.model(torch.tensor([prompt + tokens])).logits[0, -1]
            counts = torch.bincount(torch.tensor(tokens, dtype=torch.long), minlength=logits.shape[0]).float()
            tokens.append(int(torch.argmax(logits - counts * frequency - (counts > 0).float() * presence)))
    generation = hf_engine.generate(prompt, SamplingParams(20, temperature=0, frequency_penalty=frequency,
                                                           presence_penalty=presence))
    assert generation.text == hf_engine.tokenizer.decode(tokens, skip_special_tokens=True)
    assert generation.text != hf_engine.generate(prompt, SamplingParams(20, temperature=0)).text


def test_log_probabilities_are_the_models_log_softmax(hf_engine: TransformersEngine) -> None:
    prompt = hf_engine.chat_ids(MESSAGES)
    generation = hf_engine.generate(prompt, SamplingParams(6, temperature=0, top_logprobs=2))
    assert len(generation.logprobs) == 6
    for item in generation.logprobs:  # greedy picks the most likely token
        assert len(item.top) == 2 and item.top[0] == (item.token, item.logprob) and item.top[1][1] <= item.logprob
    scored = hf_engine.prompt_logprobs(prompt, 1)
    with torch.no_grad():
        expected = torch.log_softmax(hf_engine.model(torch.tensor([prompt])).logits[0], dim=-1)
    assert len(scored) == len(prompt) and scored[0].logprob != scored[0].logprob  # NaN: nothing predicts the first
    for position in range(1, len(prompt)):
        assert abs(scored[position].logprob - float(expected[position - 1, prompt[position]])) < 1e-4
    assert hf_engine.count_tokens("kubectl describe pod") == len(hf_engine.encode("kubectl describe pod")) > 0
