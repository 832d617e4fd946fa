"""Secrets laid out the way real programs print them, for the property tests of both redactors.

Each layout is the lines one program writes and the pieces of secret that must not
survive (`secrets`). `tests/core/test_redact_streams.py` runs them through the Python
readers and `tests/agent/test_redaction_layouts.py` through the Rust agent, behind
random prefixes, inside JSON and logfmt envelopes and split into CRI partial lines.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import string
from dataclasses import dataclass

from hypothesis import strategies as st

_RNG = random.Random(15)
_B64 = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class Layout:
    name: str
    lines: tuple[str, ...]
    secrets: tuple[str, ...]
    every_line_secret: bool = False


def _pick(alphabet: str, length: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(length))


def _mixed(length: int) -> str:
    """A random token that, like real ones, changes character class between most neighbours."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    out, last = [], -1
    for _ in range(length):
        last = _RNG.choice([i for i in range(3) if i != last])
        out.append(_RNG.choice(classes[last]))
    return "".join(out)


def _pem(kind: str, body: str) -> list[str]:
    label = f"{kind} PRIVATE KEY" if kind else "PRIVATE KEY"
    return [f"-----BEGIN {label}-----", *(body[i:i + 64] for i in range(0, len(body), 64)), f"-----END {label}-----"]


def _layouts() -> list[Layout]:
    rsa = "MIIEow" + _pick(_B64, 248) + "=="
    ec = "MHcCAQEE" + _pick(_B64, 110)
    pkcs8 = "MIIEvQ" + _pick(_B64, 120)
    client_key = base64.b64encode("\n".join([*_pem("RSA", rsa), ""]).encode()).decode()
    docker_auth = base64.b64encode(f"deploy:{_mixed(24)}".encode()).decode()
    key_id = _pick("0123456789abcdef", 40)
    netrc_pw = _mixed(14)
    token = _pick("0123456789abcdef", 40)
    negotiate = "YIIGhgYGKwYBBQUCoIIGejCCBnag" + _mixed(40)
    digest = _pick("0123456789abcdef", 32)
    signature = _pick("0123456789abcdef", 64)
    sigv4 = ("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, "
             f"SignedHeaders=host, Signature={signature}")
    vendor = _mixed(32)
    hex_key = _pick("0123456789abcdef", 40)
    sa = {"type": "service_account", "private_key_id": key_id,
          "private_key": "\n".join([*_pem("", pkcs8), ""]), "client_email": "trainer@ml.iam.gserviceaccount.com"}
    return [
        Layout("pem_rsa_line_by_line", tuple(_pem("RSA", rsa)), tuple(_pem("RSA", rsa)[1:-1]), every_line_secret=True),
        Layout("pem_ec_line_by_line", tuple(_pem("EC", ec)), tuple(_pem("EC", ec)[1:-1]), every_line_secret=True),
        Layout("pem_in_json_string", ("key loaded " + json.dumps({"pem": "\n".join(_pem("", pkcs8))}),), (pkcs8[:60],)),
        Layout("kubeconfig_client_key_data", ("users:", "- name: admin", "  user:", f"    client-key-data: {client_key}"),
               (client_key[20:],)),
        Layout("docker_auths", (json.dumps({"auths": {"registry.example.com": {"auth": docker_auth}}}),), (docker_auth,)),
        Layout("service_account_json", (json.dumps(sa),), (key_id, pkcs8[:60])),
        Layout("netrc_one_line", (f"machine registry.example.com login deploy password {netrc_pw}",), (netrc_pw,)),
        Layout("netrc_line_by_line", ("machine github.com", "  login bob", f"  password {netrc_pw}"), (netrc_pw,)),
        Layout("authorization_token", (f"Authorization: Token {token}",), (token,)),
        Layout("authorization_negotiate", (f"authorization: Negotiate {negotiate}",), (negotiate,)),
        Layout("authorization_digest", (f'Authorization: Digest username="bob", realm="api", nonce="abc", uri="/v1", response="{digest}"',),
               (digest,)),
        Layout("authorization_sigv4", (sigv4,),
               (signature, "AKIAIOSFODNN7EXAMPLE")),
        Layout("entropy_vendor_key", (f"vendor key {vendor} rotated",), (vendor,)),
        Layout("entropy_hex_assigned", (f"hmac_key={hex_key}",), (hex_key,)),
    ]


LAYOUTS = _layouts()


def prefixes() -> st.SearchStrategy[str]:
    """What loggers put before a message: timestamps, levels, logger and container names, or random words."""
    fixed = st.sampled_from([
        "", "2026-11-27T06:01:00Z DEBUG tls: ", "2026-11-27T06:01:00.123456789Z stdout F ",
        "I1127 06:01:00.123456       1 main.go:42] ", "[pod/api-7f9c/api] ", "2026-11-27 06:01:00,123 DEBUG app.tls - ",
        "level=debug logger=tls ", "\t",
    ])
    words = st.from_regex(r"\A[A-Za-z0-9:.\[\]/_-]{1,12}( [A-Za-z0-9:.\[\]/_-]{1,12}){0,3} \Z", fullmatch=True)
    return st.one_of(fixed, words)


def wrap(line: str, envelope: str) -> str:
    """`line` as a structured logger would print it: plain, in a JSON object, or a logfmt quoted value."""
    if envelope == "json":
        return json.dumps({"level": "debug", "msg": line})
    if envelope == "logfmt":
        return 'msg="' + line.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return line


def cri_lines(lines: list[str], cuts: list[list[int]], stream: str = "stdout") -> list[str]:
    """Lines in kubelet's CRI format, each split at `cuts` into `P` parts and a final `F`."""
    out = []
    for number, (line, points) in enumerate(zip(lines, cuts, strict=True)):
        stamp = f"2026-11-27T06:01:{number % 60:02d}.000000000Z"
        bounds = [0, *points, len(line)]
        parts = [line[a:b] for a, b in itertools.pairwise(bounds)]
        out += [f"{stamp} {stream} P {part}\n" for part in parts[:-1]]
        out.append(f"{stamp} {stream} F {parts[-1]}\n")
    return out
