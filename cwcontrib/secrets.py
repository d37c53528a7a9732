"""Recognising credentials in submitted data: real exports of this dataset leaked a W&B API key."""

from __future__ import annotations

import re

_SECRET_NAME = re.compile(
    r"(?:^|[._\-])(?:api[_\-]?key|apikey|access[_\-]?key|secret(?:[_\-]?key)?|token|auth[_\-]?token|"
    r"passw(?:or)?d|passwd|credentials?|private[_\-]?key)(?:$|[._\-])",
    re.IGNORECASE,
)

_SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("an OpenAI-style secret key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a Weights & Biases API key", re.compile(r"\blocal-[0-9a-f]{40}\b")),
)

# A W&B key is 40 hex digits, like a git commit id: only suspicious under a credential-like name.
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_in_value(value: str, name: str = "") -> str | None:
    """What kind of credential `value` looks like (given the key or column it sits under), or None."""
    for kind, pattern in _SECRET_VALUES:
        if pattern.search(value):
            return kind
    if is_secret_name(name) and _HEX40.match(value.strip()):
        return "a 40-hex-digit API key (as Weights & Biases issues)"
    return None
