"""The high-entropy backstop: long random-looking tokens right after a secret-ish word.

Patterns catch secrets by their shape; a vendor token or a hex signing key with no
known shape is caught here by how random it looks, the way detect-secrets' entropy
plugins do, but only within a few characters after a word like key, secret, token
or auth. Ordinary log noise survives: UUIDs, trace ids, image digests and git SHAs
are lower-case hex (or dashed hex), and hex is only taken when it is the value
assigned to such a word. Entropy alone cannot tell a model id (`Meta-Llama-3-8B-Instruct`)
from a token, so a base64-like token must also change character class (lower, upper,
digit) between most neighbours, as random text does and names made of words do not. The rules are the `entropy` section of the vectors file;
the Rust agent implements the same ones and both test suites run its vectors.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubetrainer.errors import UserError

_TOKEN = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# base64 of "-----BEGIN": a PEM block in base64. Private keys are caught by their own
# pattern before the backstop runs; what is left is a certificate, which may stay.
_BASE64_PEM = "LS0tLS1CRUdJTi"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ASSIGNMENT_GAP = frozenset(" \t\"'\\:=")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class EntropyRule:
    """The backstop's settings (see the vectors file's `entropy.algorithm` for how they combine)."""

    type: str
    keywords: tuple[str, ...]
    window: int
    min_length: int
    min_bits: float
    min_class_changes: float
    hex_min_length: int
    hex_min_bits: float

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], where: str) -> EntropyRule:
        try:
            return cls(str(entry["type"]), tuple(str(k).lower() for k in entry["keywords"]), int(entry["window"]),
                       int(entry["min_length"]), float(entry["min_bits"]), float(entry["min_class_changes"]),
                       int(entry["hex_min_length"]), float(entry["hex_min_bits"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"bad entropy rule: {exc!r}", where=where) from exc

    def apply(self, text: str, counts: Counter[str]) -> str:
        """`text` with each qualifying token replaced by `[REDACTED:<type>]`, counted in `counts`."""
        ends = _keyword_ends(text.translate(_ASCII_LOWER), self.keywords)
        if not ends:
            return text
        pieces: list[str] = []
        last = 0
        for match in _TOKEN.finditer(text):
            start, token = match.start(), match.group()
            if len(token) < min(self.min_length, self.hex_min_length) or not self._qualifies(text, start, token, ends):
                continue
            pieces += [text[last:start], f"[REDACTED:{self.type}]"]
            counts[self.type] += 1
            last = match.end()
        return "".join([*pieces, text[last:]]) if pieces else text

    def _qualifies(self, text: str, start: int, token: str, ends: list[int]) -> bool:
        nearest = bisect.bisect_right(ends, start) - 1  # `ends` is sorted
        if nearest < 0 or token.startswith(_BASE64_PEM):
            return False
        gap = text[ends[nearest]:start]
        if len(gap) > self.window or "\n" in gap:
            return False
        if all(char in _HEX_DIGITS for char in token):
            assigned = all(char in _ASSIGNMENT_GAP for char in gap) and (":" in gap or "=" in gap)
            return assigned and len(token) >= self.hex_min_length and shannon_bits(token) >= self.hex_min_bits
        mixed = any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)
        return (mixed and len(token) >= self.min_length and class_changes(token) >= self.min_class_changes
                and shannon_bits(token) >= self.min_bits)


def _keyword_ends(lowered: str, keywords: tuple[str, ...]) -> list[int]:
    """Where each (possibly overlapping) keyword occurrence ends, in `lowered` (ASCII lower-cased), sorted."""
    ends = []
    for keyword in keywords:
        index = lowered.find(keyword)
        while index >= 0:
            ends.append(index + len(keyword))
            index = lowered.find(keyword, index + 1)
    return sorted(ends)


def _char_class(char: str) -> int:
    return 1 if "a" <= char <= "z" else 2 if "A" <= char <= "Z" else 3 if "0" <= char <= "9" else 0


def class_changes(token: str) -> float:
    """Among neighbouring letters and digits, the fraction whose classes (lower, upper, digit) differ."""
    pairs = changes = 0
    for left, right in itertools.pairwise(token):
        a, b = _char_class(left), _char_class(right)
        if a and b:
            pairs += 1
            changes += a != b
    return changes / pairs if pairs else 0.0


def shannon_bits(token: str) -> float:
    """Bits per character, summed over the characters in code-point order (the Rust agent's order)."""
    length = len(token)
    counts = Counter(token)
    return math.log2(length) - sum(counts[char] * math.log2(counts[char]) for char in sorted(counts)) / length
