"""Hugging Face Hub acquisition: snapshot download into the data home, with clear errors.

A model `org/name` lives in `<models>/org--name/` as a plain HF directory (no
symlinked blob cache), so every other stage loads it with `from_pretrained(path)`.
huggingface_hub resumes interrupted downloads from its `.cache/` inside that
directory; `complete` marks a snapshot that finished, so a half download is never
mistaken for a model.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubetrainer.atomic import write_text
from kubetrainer.errors import Unavailable, UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMPLETE_MARKER = ".kubetrainer-complete"
# Weights as safetensors plus everything a tokenizer or config needs; never the
# duplicate .bin/.pth/.gguf/onnx copies many repos also carry.
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
OFFLINE_HINT = "connect to the network (and unset HF_HUB_OFFLINE), or use the bundled default model"


def is_hub_id(ref: str) -> bool:
    """Whether `ref` has the `org/name` shape of a Hub repository id."""
    return bool(HUB_ID.match(ref))


def local_dir(models_dir: Path, repo_id: str) -> Path:
    """The directory a Hub model is (or will be) downloaded to."""
    return Path(models_dir) / repo_id.replace("/", "--")


def cached(models_dir: Path, repo_id: str) -> Path | None:
    """The finished download of `repo_id`, or None."""
    path = local_dir(models_dir, repo_id)
    return path if (path / COMPLETE_MARKER).is_file() else None


def token_from_env(explicit: str | None = None) -> str | None:
    """The Hub token: the explicit one, else HF_TOKEN; never written anywhere."""
    return explicit or os.environ.get("HF_TOKEN") or None


def download(
    repo_id: str,
    models_dir: Path,
    *,
    token: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download (or resume) a model snapshot into `<models>/org--name/` and return it."""
    from huggingface_hub import snapshot_download

    done = cached(models_dir, repo_id)
    if done is not None:
        return done
    target = local_dir(models_dir, repo_id)
    require_reachable(repo_id, endpoint)
    with hub_errors(repo_id):
        snapshot_download(
            repo_id,
            revision=revision,
            local_dir=target,
            allow_patterns=MODEL_FILES,
            token=token_from_env(token),
            endpoint=endpoint,
        )
    if not (target / "config.json").is_file():
        raise UserError(
            f"Hub repository {repo_id} has no config.json",
            where=repo_id,
            expected="a transformers model repository",
        )
    write_text(target / COMPLETE_MARKER, json.dumps({"repo_id": repo_id, "revision": revision}) + "\n")
    return target


def fetch_config(repo_id: str, *, token: str | None = None, endpoint: str | None = None) -> dict[str, Any]:
    """A Hub model's config.json alone (a few KB), for estimating models outside the catalog."""
    from huggingface_hub import hf_hub_download

    require_reachable(repo_id, endpoint)
    with hub_errors(repo_id):
        path = hf_hub_download(repo_id, "config.json", token=token_from_env(token), endpoint=endpoint)
    return json.loads(Path(path).read_text())


def require_reachable(repo_id: str, endpoint: str | None = None, timeout_s: float = 5.0) -> None:
    """Fail at once when the Hub cannot be reached (no network, no name resolution, nothing listening).

    huggingface_hub retries a failed connection five times with back-off (24 s) before it gives
    up; one TCP connect first costs a round trip when online. Offline mode (HF_HUB_OFFLINE) and
    proxies, which connect for us, are left to huggingface_hub.
    """
    import socket
    import urllib.parse
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or urllib.request.getproxies():
        return
    url = urllib.parse.urlparse(endpoint or constants.ENDPOINT)
    host = url.hostname or ""
    try:
        with socket.create_connection((host, url.port or (80 if url.scheme == "http" else 443)), timeout=timeout_s):
            pass
    except (OSError, UnicodeError) as error:
        raise Unavailable(f"{repo_id} is not downloaded and the Hub is unreachable ({host}: {error})",
                          where=repo_id, hint=OFFLINE_HINT) from None


@contextmanager
def hub_errors(repo_id: str) -> Iterator[None]:
    """Turn huggingface_hub and network exceptions into one-line UserError/Unavailable."""
    try:
        yield
    except Exception as error:
        translated = translate_error(repo_id, error)
        if translated is None:
            raise
        raise translated from error


def translate_error(repo_id: str, error: BaseException) -> UserError | None:
    """The user-facing error for a failed Hub call, or None when it is a bug."""
    from huggingface_hub import errors as hf

    if isinstance(error, hf.GatedRepoError):
        return UserError(
            f"{repo_id} is gated: accept its license on huggingface.co and pass a token",
            where=repo_id,
            hint="export HF_TOKEN=hf_... (or --token) with an account that accepted the license",
        )
    if isinstance(error, hf.RepositoryNotFoundError):
        return UserError(
            f"no model {repo_id} on the Hub (or it is private)",
            where=repo_id,
            expected="an existing org/name repository id",
            hint="check the spelling; for a private repository pass a token",
        )
    if isinstance(error, hf.RevisionNotFoundError):
        return UserError(f"{repo_id} has no such revision", where=repo_id)
    if isinstance(error, hf.LocalEntryNotFoundError | hf.OfflineModeIsEnabled):
        cause = str(error).splitlines()[0].removeprefix("Got: ")
        return Unavailable(
            f"{repo_id} is not downloaded and the Hub is unreachable or offline mode is on ({cause})",
            where=repo_id,
            hint=OFFLINE_HINT,
        )
    if isinstance(error, hf.HfHubHTTPError):
        return Unavailable(f"the Hub refused {repo_id}: {error}".splitlines()[0], where=repo_id)
    if isinstance(error, ConnectionError | TimeoutError) or type(error).__module__.startswith("httpx"):
        return Unavailable(
            f"cannot reach the Hub for {repo_id}: {type(error).__name__}",
            where=repo_id,
            hint="check the network or HF_ENDPOINT; the bundled default works offline",
        )
    return None
