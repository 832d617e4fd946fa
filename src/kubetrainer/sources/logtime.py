"""Find the timestamp at the start of a log line, in the formats applications really write.

Lines without one inherit the previous line's time, so a stack trace stays with
its error. Formats: RFC 3339 (bare, bracketed or quoted), `YYYY-MM-DD HH:MM:SS,mmm`,
logfmt `ts=`/`time=`, Go's and nginx's `2026/03/14 10:42:17`, Rails' `I, [...]`,
syslog's `Mar 14 10:42:17`, JSON `ts`/`time`/`timestamp` fields (RFC 3339, or epoch seconds or milliseconds as zap and
pino write them), MongoDB's `{"t":{"$date":"..."}}`, nginx `[02/Jan/2026:03:04:05 +0000]`,
klog `I0314 10:42:17.123456` and redis `14 Mar 2026 10:42:17.123`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# RFC 3339 or `YYYY-MM-DD HH:MM:SS,mmm` at the start, bare, bracketed, quoted, after logfmt's `ts=`/`time=` (go-kit,
# slog, logrus), or after Ruby Logger's `I, [` (Rails); and Go's log package and nginx's error log, `2026/03/14 10:42:17`.
_ISO = re.compile(r'^(?:[A-Z], )?[\[\("]?(?:(?:ts|time)="?)?(\d{4}[-/]\d{2}[-/]\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?'
                  r'(Z|[+-]\d{2}:?\d{2})?')
_JSON_TS = re.compile(r'"(?:ts|time|timestamp|@timestamp|t"\s*:\s*\{\s*"\$date)"\s*:\s*"(\d{4}-\d{2}-\d{2})[T ]'
                      r'(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?"')
# zap's `"ts":1773486470.712` (seconds), pino's and bunyan-style `"time":1773486470712` (milliseconds)
_JSON_EPOCH = re.compile(r'"(?:ts|time|timestamp)"\s*:\s*(?:(\d{13})|(\d{10})(?:\.(\d{1,9}))?)\b')
_NGINX = re.compile(r"\[(\d{2})/(\w{3})/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")
_KLOG = re.compile(r"^[IWEF](\d{2})(\d{2}) (\d{2}:\d{2}:\d{2})\.(\d{6})")
_REDIS = re.compile(r"^\d+:[A-Z] (\d{2}) (\w{3}) (\d{4}) (\d{2}:\d{2}:\d{2})\.(\d{3})")
_SYSLOG = re.compile(r"^(\w{3}) ([ \d]\d) (\d{2}:\d{2}:\d{2})\b")  # `Mar 14 10:42:17 host kernel: ...` (RFC 3164)
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _iso(date: str, clock: str, fraction: str | None, zone: str | None) -> datetime:
    moment = datetime.fromisoformat(f"{date.replace('/', '-')}T{clock}")
    if fraction:
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        return (moment - timedelta(minutes=offset)).replace(tzinfo=timezone.utc)
    return moment.replace(tzinfo=timezone.utc)


def _epoch(millis: str | None, seconds: str | None, fraction: str | None) -> datetime:
    """An epoch time in milliseconds, or in seconds with a fraction, exactly (no float rounding)."""
    if millis:
        whole, rest = divmod(int(millis), 1000)
        micros = rest * 1000
    else:
        whole, micros = int(seconds or 0), int((fraction or "0")[:6].ljust(6, "0"))
    return datetime.fromtimestamp(whole, timezone.utc) + timedelta(microseconds=micros)


def line_time(line: str, year: int) -> datetime | None:
    """The UTC time a log line starts with, or None; `year` fills in formats that omit it (klog)."""
    head = line[:48]
    try:
        if match := _ISO.match(head):
            return _iso(*match.groups())
        if head.startswith("{") and (match := _JSON_TS.search(line[:200])):
            return _iso(*match.groups())
        if head.startswith("{") and (match := _JSON_EPOCH.search(line[:200])):
            return _epoch(*match.groups())
        if match := _KLOG.match(head):
            month, day, clock, micros = match.groups()
            return datetime.fromisoformat(f"{year}-{month}-{day}T{clock}.{micros}").replace(tzinfo=timezone.utc)
        if match := _NGINX.search(line[:80]):
            day, month, year_text, clock, zone = match.groups()
            return _iso(f"{year_text}-{_MONTHS[month]:02d}-{day}", clock, None, zone)
        if (match := _SYSLOG.match(head)) and match[1] in _MONTHS:
            month, day, clock = match.groups()
            return _iso(f"{year}-{_MONTHS[month]:02d}-{int(day):02d}", clock, None, None)
        if match := _REDIS.match(head):
            day, month, year_text, clock, millis = match.groups()
            return _iso(f"{year_text}-{_MONTHS[month]:02d}-{day}", clock, millis, None)
    except (ValueError, KeyError):
        return None
    return None
