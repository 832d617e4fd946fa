"""Fake secrets planted in the sample cluster, so every source exercises redaction.

They look like the real thing (same prefixes, lengths and alphabets) but are
random, derived from the generator's seed. Tests grep the index, query results
and prompts for every value listed by `planted_secrets`.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class FakeSecrets:
    """One value of each kind; `values()` lists the strings that must never be stored."""

    aws_access_key: str
    aws_secret_key: str
    bearer_token: str
    jwt: str
    url_password: str
    env_password: str
    private_key_body: str
    slack_webhook: str
    github_token: str
    openai_key: str
    google_api_key: str

    def values(self) -> dict[str, str]:
        """kind -> the secret part of each planted string (what a grep must not find)."""
        return {
            "aws_access_key": self.aws_access_key,
            "aws_secret_key": self.aws_secret_key,
            "bearer_token": self.bearer_token,
            "jwt": self.jwt,
            "url_password": self.url_password,
            "env_password": self.env_password,
            "private_key": self.private_key_body,
            "slack_webhook": self.slack_webhook.rsplit("/", 1)[-1],
            "github_token": self.github_token,
            "openai_key": self.openai_key,
            "google_api_key": self.google_api_key,
        }

    @property
    def private_key_block(self) -> str:
        lines = [self.private_key_body[i : i + 64] for i in range(0, len(self.private_key_body), 64)]
        return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def planted_secrets(seed: int) -> FakeSecrets:
    """The fake secrets for a seed (the same seed gives the same values)."""
    rng = random.Random(f"secrets-{seed}")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": f"svc-{rng.randint(1000, 9999)}", "iat": 1767225600}).encode())
    return FakeSecrets(
        aws_access_key="AKIA" + _pick(rng, UPPER_DIGITS, 16),
        aws_secret_key=_pick(rng, ALNUM + "/+", 40),
        bearer_token=_pick(rng, ALNUM, 40),
        jwt=f"{header}.{payload}.{_b64url(rng.randbytes(32))}",
        url_password="pw-" + _pick(rng, ALNUM, 14),
        env_password="Pw" + _pick(rng, ALNUM, 18),
        private_key_body="MIIEow" + _pick(rng, ALNUM + "+/", 250),
        slack_webhook=(
            f"https://hooks.slack.com/services/T{_pick(rng, UPPER_DIGITS, 8)}/"
            f"B{_pick(rng, UPPER_DIGITS, 8)}/{_pick(rng, ALNUM, 24)}"
        ),
        github_token="ghp_" + _pick(rng, ALNUM, 36),
        openai_key="sk-proj-" + _pick(rng, ALNUM, 40),
        google_api_key="AIza" + _pick(rng, ALNUM + "-_", 35),
    )
