"""A private key printed line by line: the state one log stream carries from line to line.

The patterns see one line at a time, so after a `-----BEGIN ... PRIVATE KEY-----`
line they cannot know that the next lines are key material. Loggers print each
line with their own prefix (timestamp, level, logger name, container name, a JSON
envelope), so a body line is recognised by its last token, not by the whole line:
a base64 run at the end of the line (before closing quotes, brackets, `\\n`
escapes), standing alone or after a delimiter. The rules are the vectors file's
`streams.algorithm`; the Rust agent (`redact_line`) implements the same ones and
both test suites run the `streams` vectors.
"""

from __future__ import annotations

import re

KEY_TYPE = "private_key"
MARKER = f"[REDACTED:{KEY_TYPE}]"
KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_END = "-----END "
_END_TAIL = "PRIVATE KEY-----"
_HEADERS = ("Proc-Type:", "DEK-Info:")
_CLOSERS = frozenset(" \t\r\"',;)]}\\")
_ESCAPES = ("\\n", "\\r", "\\t")
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_DELIMITERS = frozenset(" \t\"':=")
_WHITE = " \t\n\x0c\r"  # ASCII white space, as Rust's is_ascii_whitespace: both sides strip the same
MIN_PREFIXED = 16


class KeyBlock:
    """One stream's state: inside a private key block or not."""

    def __init__(self) -> None:
        self.in_key = False

    def step(self, line: str) -> tuple[str, int]:
        """`line` with its key material replaced by the marker, and how many markers were added.

        Text that is not key material is left for the patterns, which run on the result.
        """
        out, added = line, 0
        if self.in_key:
            out, added = self._inside(line)
        if _END_TAIL in line:
            begins = list(KEY_BEGIN.finditer(line))
            if begins:
                self.in_key = _END not in line[begins[-1].end():]
        return out, added

    def _inside(self, line: str) -> tuple[str, int]:
        start = line.find(_END)
        end = line.find(_END_TAIL, start) if start >= 0 else -1
        if end >= 0:
            self.in_key = False
            head = line[:start]
            body = body_span(head)
            return (head[:body[0]] if body else head) + MARKER + line[end + len(_END_TAIL):], 1
        if not line.strip(_WHITE):
            return line, 0
        span = body_span(line)
        if span is None:
            self.in_key = False
            return line, 0
        return line[:span[0]] + MARKER + line[span[1]:], 1


def body_span(line: str) -> tuple[int, int] | None:
    """Where the key material of a line inside a key block is, or None when it holds none."""
    for header in _HEADERS:
        if header in line:
            return line.index(header), len(line)
    stop = _content_end(line)
    start = stop
    while start > 0 and line[start - 1] in _BASE64:
        start -= 1
    token = line[start:stop]
    if not token:
        return None
    if not line[:start].strip(_WHITE):
        return start, stop
    if line[start - 1] not in _DELIMITERS:
        return None
    mixed = any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)
    return (start, stop) if len(token) >= MIN_PREFIXED or token.endswith("=") or mixed else None


def _content_end(line: str) -> int:
    """The end of a line's last token: before trailing closing quotes, brackets, spaces and `\\n` escapes."""
    stop = len(line)
    while True:
        if stop > 0 and line[stop - 1] in _CLOSERS:
            stop -= 1
        elif line[:stop].endswith(_ESCAPES):
            stop -= 2
        else:
            return stop
