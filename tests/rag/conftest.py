"""Shared RAG fixtures: a tiny random sentence-transformers model, and a small sample index with MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index
from kubetrainer.samples.cluster import generate_cluster
from kubetrainer.sources.base import Problems
from kubetrainer.sources.dump import read_dump

_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
# Character-level WordPiece: every word splits into letters, so different texts get different vectors.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_CHARS, *(f"##{c}" for c in _CHARS), *".,:;/-_=()[]'\""]


def make_tiny_model(directory: Path) -> Path:
    """A randomly initialised 1-layer BERT sentence-transformer (fast; meaningless but deterministic vectors)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizer

    torch.manual_seed(0)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(VOCAB)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128, initializer_range=0.5)
    hf_dir = directory / "hf"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    out = directory / "st"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return out


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_tokenizer(chat: bool = True):
    """A real byte-level BPE tokenizer trained in milliseconds on cluster-ish text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    corpus = ["pod node OOMKilled exit code 137 restarts CUDA out of memory Xid 79 events warning", "Why does the pod restart? excerpts question"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    if chat:
        tokenizer.chat_template = CHATML
    return tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """The tokenizer builder: call it (chat=False for one without a chat template)."""
    return build_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-embedder"))


@pytest.fixture(scope="session")
def sample_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rag-sample") / "dump"
    generate_cluster(out, seed=0, size="small")
    return out


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, sample_dump: Path) -> Path:
    """The small sample cluster indexed with the bundled MiniLM (the one slow fixture)."""
    root = tmp_path_factory.mktemp("rag-index")
    embedder = Embedder(cache_dir=root / "cache")
    build_index(root / "index", read_dump(sample_dump, Problems()), embedder, source=str(sample_dump), window_minutes=360)
    return root / "index"
