"""Secret scrubbing, driven by the packaged redaction-vectors.json like the Rust agent.

Everything the project stores, indexes, trains on or sends passes through here first.
The patterns, the entropy backstop's settings and the test vectors both test suites
run live in one JSON file (package data, `kubetrainer.packaged`) so the Python readers
and `kubetrainer-agent` redact exactly the same things. Each secret is replaced by
`[REDACTED:<type>]` and counted by type. Line-oriented readers also carry a
`KeyBlock` per stream, so a private key printed line by line is redacted whole.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.packaged import REDACTION_VECTORS, schema_file
from kubetrainer.redact_entropy import EntropyRule
from kubetrainer.redact_keys import KEY_TYPE, KeyBlock

VECTORS_PATH = schema_file(REDACTION_VECTORS)
MARKER = "[REDACTED:"
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Pattern:
    """One secret shape: its type name, the regex that finds it, and a cheap pre-check.

    `keywords` (lower case) lets most text skip the regex: the pattern can only match
    text containing one of them. Empty means always run the regex.
    """

    type: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...] = ()
    not_secrets: frozenset[str] = frozenset()  # lower case: values the secret never is (`false` in allow_credentials=False)

    @property
    def has_secret_group(self) -> bool:
        return "secret" in self.regex.groupindex


def compile_pattern(type_name: str, regex: str, *, where: str, keywords: Iterable[str] = (),
                    not_secrets: Iterable[str] = ()) -> Pattern:
    """A Pattern from user or file input, with a clear error for a bad name or regex."""
    if not _TYPE_NAME.match(type_name):
        raise UserError(
            f"invalid redaction type name {type_name!r}",
            where=where,
            expected="lower-case letters, digits and underscores, starting with a letter",
        )
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise UserError(f"invalid regex for {type_name!r}: {exc}", where=where) from exc
    return Pattern(type_name, compiled, tuple(keyword.lower() for keyword in keywords),
                   frozenset(value.lower() for value in not_secrets))


def parse_extra_pattern(spec: str) -> Pattern:
    """A user-supplied pattern written `TYPE=REGEX` (the agent's --redact-pattern syntax)."""
    type_name, sep, regex = spec.partition("=")
    if not sep or not regex:
        raise UserError(f"bad redaction pattern {spec!r}", where="--redact-pattern", expected="TYPE=REGEX")
    return compile_pattern(type_name.strip(), regex, where="--redact-pattern")


class Redactor:
    """Applies the patterns in order, then the entropy backstop; see the file's `algorithm`."""

    def __init__(self, patterns: Iterable[Pattern], entropy: EntropyRule | None = None) -> None:
        self.patterns = tuple(patterns)
        self.entropy = entropy

    @classmethod
    def from_file(cls, path: Path | Traversable = VECTORS_PATH, extra: Iterable[Pattern] = ()) -> Redactor:
        """The shared patterns and backstop from `path`, then any user-supplied patterns."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            entries = document["patterns"]
            entropy = document.get("entropy")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"cannot read redaction patterns: {exc}", where=str(path)) from exc
        patterns = [
            compile_pattern(
                entry["type"], entry["regex"], where=f"{path}: patterns[{index}]", keywords=entry.get("keywords", ()),
                not_secrets=entry.get("not_secrets", ()),
            )
            for index, entry in enumerate(entries)
        ]
        rule = EntropyRule.from_json(entropy, where=f"{path}: entropy") if entropy is not None else None
        return cls([*patterns, *extra], rule)

    def keywords(self) -> frozenset[str] | None:
        """Every lower-case keyword some pattern or the backstop needs; None when a pattern runs on any text.

        Text holding none of them is never changed, which lets readers skip the copy.
        """
        if any(not pattern.keywords for pattern in self.patterns):
            return None
        words = {keyword for pattern in self.patterns for keyword in pattern.keywords}
        return frozenset(words | set(self.entropy.keywords if self.entropy else ()))

    def with_extra(self, extra: Iterable[Pattern]) -> Redactor:
        """A redactor that also applies `extra` after the shared patterns."""
        return Redactor([*self.patterns, *extra], self.entropy)

    def redact_text(self, text: str) -> tuple[str, Counter[str]]:
        counts: Counter[str] = Counter()
        lowered = text.lower()
        for pattern in self.patterns:
            if pattern.keywords and not any(keyword in lowered for keyword in pattern.keywords):
                continue
            redacted = _apply(pattern, text, counts)
            if redacted is not text:
                text, lowered = redacted, redacted.lower()
        if self.entropy is not None:
            text = self.entropy.apply(text, counts)
        return text, counts

    def redact_line(self, text: str, stream: KeyBlock) -> tuple[str, Counter[str]]:
        """One line of a log stream: the stream's key-block step, then `redact_text`."""
        stepped, keys = stream.step(text)
        redacted, counts = self.redact_text(stepped)
        if keys:
            counts[KEY_TYPE] += keys
        return redacted, counts

    def redact_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy with message, object.summary and label values scrubbed and `redactions` updated."""
        scrubbed = copy.deepcopy(dict(record))
        removed = 0
        if isinstance(scrubbed.get("message"), str):
            scrubbed["message"], counts = self.redact_text(scrubbed["message"])
            removed += counts.total()
        obj = scrubbed.get("object")
        if isinstance(obj, dict) and isinstance(obj.get("summary"), str):
            obj["summary"], counts = self.redact_text(obj["summary"])
            removed += counts.total()
        labels = scrubbed.get("labels")
        if isinstance(labels, dict):
            for key, value in labels.items():
                if isinstance(value, str):
                    labels[key], counts = self.redact_text(value)
                    removed += counts.total()
        scrubbed["redactions"] = int(scrubbed.get("redactions") or 0) + removed
        return scrubbed


def _apply(pattern: Pattern, text: str, counts: Counter[str]) -> str:
    """One pattern over `text`: replace each secret span, keeping the text around it."""
    group = "secret" if pattern.has_secret_group else 0
    pieces: list[str] = []
    last = 0
    for match in pattern.regex.finditer(text):
        start, end = match.span(group)
        if start < 0 or MARKER in text[start:end] or text[start:end].lower() in pattern.not_secrets:
            continue
        pieces.append(text[last:start])
        pieces.append(f"[REDACTED:{pattern.type}]")
        counts[pattern.type] += 1
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The shared patterns, compiled once per process."""
    return Redactor.from_file()


def redact_text(text: str) -> tuple[str, Counter[str]]:
    """`text` with every secret replaced by `[REDACTED:<type>]`, and the counts by type."""
    return default_redactor().redact_text(text)


def redact_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A scrubbed copy of a schema-v1 record (message, object.summary, label values)."""
    return default_redactor().redact_record(record)
