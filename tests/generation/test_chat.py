"""One prompt format for a model without a chat template: train, serve and eval render the same text,
and a trained, saved or exported checkpoint carries the template so a reload renders it identically."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoModelForCausalLM, AutoTokenizer

from kubetrainer.config import Settings
from kubetrainer.evaluate.answers import AnswerSettings, answer_questions
from kubetrainer.evaluate.dataset import EvalSet, Question, render_texts
from kubetrainer.generation.chat import FALLBACK_CHAT_TEMPLATE, carry_template, render
from kubetrainer.generation.params import NO_REPEAT_NGRAM, REPETITION_PENALTY
from kubetrainer.models.loader import load_causal_lm
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig
from kubetrainer.train import engine as train_engine
from kubetrainer.train.config import TrainConfig
from kubetrainer.train.export import export
from kubetrainer.train.tokenize import IGNORE, tokenize_example
from tests.generation.conftest import bare_tokenizer
from tests.train.tiny import qa_records, write_jsonl

CONVERSATION = [
    {"role": "system", "content": "You answer on-call questions."},
    {"role": "user", "content": "Why does web-1 restart?"},
    {"role": "assistant", "content": "It is OOMKilled; raise the memory limit."},
]
PROMPT = CONVERSATION[:-1]


def _train_prompt_ids(tokenizer) -> list[int]:
    """The tokens training puts before the first target: the prompt the model learns to answer."""
    example = tokenize_example(tokenizer, {"messages": CONVERSATION}, max_seq_len=512)
    first_target = next(index for index, label in enumerate(example.labels) if label != IGNORE)
    return example.input_ids[:first_target]


def _greedy(model, tokenizer, prompt_ids: list[int], max_new_tokens: int, **guard) -> str:
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=model.config.pad_token_id, **guard)
    return tokenizer.decode(out[0, len(prompt_ids):], skip_special_tokens=True)


def test_the_fallback_is_chatml_and_a_template_of_its_own_wins() -> None:
    tokenizer = bare_tokenizer()
    assert render(tokenizer, PROMPT) == ("<|im_start|>system\nYou answer on-call questions.<|im_end|>\n"
                                         "<|im_start|>user\nWhy does web-1 restart?<|im_end|>\n<|im_start|>assistant\n")
    assert render(tokenizer, CONVERSATION, add_generation_prompt=False).endswith(
        "<|im_start|>assistant\nIt is OOMKilled; raise the memory limit.<|im_end|>\n")
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    assert render(tokenizer, PROMPT) == "[system] You answer on-call questions.\n[user] Why does web-1 restart?\n"
    assert carry_template(tokenizer).chat_template.startswith("{% for m in")


def test_train_serve_and_eval_render_one_prompt_for_a_model_without_a_template(bare_model_dir: Path,
                                                                                 tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(bare_model_dir)
    assert not tokenizer.chat_template
    prompt_ids = _train_prompt_ids(tokenizer)
    assert tokenizer.decode(prompt_ids) == render(tokenizer, PROMPT)

    client = TestClient(create_app(ServeConfig(home=tmp_path, model=str(bare_model_dir))))
    served = client.post("/v1/chat/completions", json={"model": bare_model_dir.name, "messages": PROMPT,
                                                        "max_tokens": 6, "temperature": 0}).json()
    assert client.app.state.serve.lm.engine.chat_ids(PROMPT) == prompt_ids
    assert served["usage"]["prompt_tokens"] == len(prompt_ids)
    model = AutoModelForCausalLM.from_pretrained(bare_model_dir).eval()
    assert served["choices"][0]["message"]["content"] == _greedy(model, tokenizer, prompt_ids, 6)

    [answer] = answer_questions(model, tokenizer, [Question(PROMPT, ["OOMKilled"])], AnswerSettings(max_new_tokens=6))
    guard = {"no_repeat_ngram_size": NO_REPEAT_NGRAM, "repetition_penalty": REPETITION_PENALTY}
    assert answer.prediction == _greedy(model, tokenizer, prompt_ids, 6, **guard).strip()
    [document] = render_texts(EvalSet("chat", texts=[CONVERSATION]), tokenizer)
    trained = tokenize_example(tokenizer, {"messages": CONVERSATION}, max_seq_len=512).input_ids
    assert tokenizer(document, add_special_tokens=False)["input_ids"] == trained


@pytest.mark.parametrize("method", ["lora", "full"])
def test_a_trained_checkpoint_and_its_exports_carry_the_template(bare_model_dir: Path, tmp_path: Path,
                                                                 method: str) -> None:
    home = tmp_path / "home"
    config = TrainConfig(dataset=write_jsonl(tmp_path / "qa.jsonl", qa_records(8)), model=str(bare_model_dir),
                         method=method, max_steps=1, batch_tokens=200, warmup_steps=0, eval_every=1, lora_dropout=0.0)
    result = train_engine.run(config, Settings(home=home))
    expected = render(bare_tokenizer(), PROMPT)
    outputs = [result.output_dir, export(result.run_dir, tmp_path / "copy", runs_dir=home / "runs",
                                         models_dir=home / "models", merge=False)]
    if method == "lora":
        outputs.append(export(result.run_dir, tmp_path / "merged", runs_dir=home / "runs", models_dir=home / "models",
                              merge=True))
    for directory in outputs:
        assert AutoTokenizer.from_pretrained(directory).chat_template == FALLBACK_CHAT_TEMPLATE, directory
        _, reloaded = load_causal_lm(directory, home / "models")
        assert reloaded.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True) == expected


def test_exporting_a_checkpoint_saved_without_a_template_writes_it_in(bare_model_dir: Path, tmp_path: Path) -> None:
    out = export(bare_model_dir, tmp_path / "exported", runs_dir=tmp_path / "runs", models_dir=tmp_path / "models",
                 merge=False)
    assert AutoTokenizer.from_pretrained(out).chat_template == FALLBACK_CHAT_TEMPLATE
    assert not AutoTokenizer.from_pretrained(bare_model_dir).chat_template, "the source is left as it was"
