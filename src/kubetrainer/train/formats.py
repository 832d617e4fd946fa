"""Training-data formats: detect which one a file holds and normalise its examples.

Accepted (DESIGN.md section 6, docs/datasets.md): JSON or JSONL in the alpaca shape
(`instruction`, `input`, `output`), chat (`messages` with `role`/`content`),
prompt/completion, raw `text`, the seed's cluster_texts.json object (`{"train": [...],
"eval": [...]}` of any of those), and a Hugging Face `datasets` directory.

Every example comes out as one of two plain shapes the tokenizer step understands:
`{"messages": [...]}` (alpaca becomes a user/assistant exchange, so the model's chat
template applies) or `{"prompt": str, "completion": str}` (raw text is a completion
with an empty prompt). Each record is detected on its own, so a file may mix formats
(the cluster dataset holds chat Q/A pairs and raw anomaly text); a record that fits
none is reported with its file and line and the fields expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubetrainer.errors import UserError

Example = dict[str, Any]

FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "chat": ("messages",),
    "alpaca": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
    "text": ("text",),
}
EXPECTED = "one of: {messages: [{role, content}]}, {instruction, input?, output}, {prompt, completion}, {text}"
ROLES = ("system", "user", "assistant", "tool")


def detect_format(record: dict[str, Any]) -> str | None:
    """The first format whose required fields the record has, or None."""
    for name, fields in FORMAT_FIELDS.items():
        if all(field in record for field in fields):
            return name
    return None


def _text_field(record: dict[str, Any], field: str, where: str) -> str:
    value = record.get(field, "")
    if not isinstance(value, str):
        raise UserError(f"field {field!r} is {type(value).__name__}", where=where, expected="a string")
    return value


def normalise(record: Any, where: str) -> tuple[str, Example]:
    """(format, example): one record as a `messages` or `prompt`/`completion` example."""
    format_name = detect_format(record) if isinstance(record, dict) else None
    if format_name is None:
        fields = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise UserError(f"the record fits no known format (fields: {fields})", where=where, expected=EXPECTED)
    return format_name, _normalise(record, format_name, where)


def _normalise(record: dict[str, Any], format_name: str, where: str) -> Example:
    if format_name == "chat":
        return {"messages": _messages(record["messages"], where)}
    if format_name == "alpaca":
        instruction = _text_field(record, "instruction", where)
        extra = _text_field(record, "input", where)
        user = f"{instruction}\n\n{extra}" if extra else instruction
        return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": _text_field(record, "output", where)}]}
    if format_name == "prompt_completion":
        return {"prompt": _text_field(record, "prompt", where), "completion": _text_field(record, "completion", where)}
    return {"prompt": "", "completion": _text_field(record, "text", where)}


def _messages(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise UserError("`messages` is empty or not a list", where=where, expected="a list of {role, content}")
    cleaned = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(message.get("content"), str):
            raise UserError(
                f"message {index} is not a {{role, content}} object with a known role",
                where=where,
                expected=f"role in {ROLES} and string content",
            )
        cleaned.append({"role": message["role"], "content": message["content"]})
    if not any(message["role"] == "assistant" for message in cleaned):
        raise UserError("the conversation has no assistant message to learn from", where=where, expected="at least one assistant turn")
    return cleaned


def _json_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs of a JSON array, a cluster_texts.json object or JSONL."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"not UTF-8 text (a binary file?): byte {error.start} cannot be decoded", where=path,
                        expected="a JSON/JSONL file or a datasets directory") from None
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and path.suffix == ".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"invalid JSON: {error.msg}", where=f"{path}:{error.lineno}", expected="a JSON array or object") from None
        yield from _document_records(document, path)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"invalid JSON: {error.msg}", where=f"{path}:{number}", expected="one JSON object per line") from None


def _document_records(document: Any, path: Path) -> Iterator[tuple[str, Any]]:
    if isinstance(document, list):
        for index, record in enumerate(document):
            yield f"{path}: record {index}", record
    elif isinstance(document, dict) and isinstance(document.get("train"), list):
        for split in ("train", "eval"):
            for index, record in enumerate(document.get(split) or []):
                yield f"{path}: {split}[{index}]", record
    elif isinstance(document, dict):
        yield f"{path}: record 0", document
    else:
        raise UserError("the top level is neither an array nor an object", where=path, expected="a JSON array of records")


def _hf_records(path: Path) -> Iterator[tuple[str, Any]]:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    splits = [loaded[name] for name in loaded] if isinstance(loaded, datasets.DatasetDict) else [loaded]
    for split in splits:
        for index, record in enumerate(split):
            yield f"{path}: row {index}", record


def load_dataset(path: str | Path) -> tuple[str, list[Example]]:
    """(format name, normalised examples) of a dataset file or `datasets` directory; mixed formats read "chat+text"."""
    path = Path(path)
    if not path.exists():
        raise UserError("the dataset does not exist", where=path, expected="a JSON/JSONL file or a datasets directory")
    is_hf = path.is_dir()
    if is_hf and not (path / "dataset_info.json").exists() and not (path / "dataset_dict.json").exists():
        raise UserError("the directory is not a saved Hugging Face dataset", where=path, expected="a directory written by save_to_disk")
    records = _hf_records(path) if is_hf else _json_records(path)
    formats: list[str] = []
    examples: list[Example] = []
    for where, record in records:
        format_name, example = normalise(record, where)
        examples.append(example)
        if format_name not in formats:
            formats.append(format_name)
    if not examples:
        raise UserError("the dataset holds no records", where=path, expected=EXPECTED)
    return "+".join(formats), examples


def load_splits(path: str | Path) -> tuple[str, list[Example], list[Example]]:
    """(format, train, eval) where the file names its eval split (cluster_texts.json); else eval is empty."""
    format_name, examples = load_dataset(path)
    path = Path(path)
    if path.is_file() and path.suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and isinstance(document.get("train"), list):
            split = len(document["train"])
            return format_name, examples[:split], examples[split:]
    return format_name, examples, []
