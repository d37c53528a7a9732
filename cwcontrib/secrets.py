"""Recognising credentials in submitted data: real exports of this dataset leaked a W&B API key."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

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


# --- Free text: code, notes, configs (no key or column to go by) --------------------------------------------------

# A run of characters a credential is written with (base64 and URL-safe alphabets, `=` padding only at its end);
# matched possessively and never inside a longer run, so each run is tried once: linear in the line's length.
_TOKEN = re.compile(r"(?<![A-Za-z0-9/+_\-])[A-Za-z0-9/+_\-]{20,}+={0,2}(?![A-Za-z0-9/+=_\-])")
# What may stand right before a literal for it to be assigned to a name (`NAME=`, `name: `, `"name": "`,
# `os.environ["NAME"] = "`, `login(key="`), written backwards: it is matched once, at the literal, on the
# reversed window before it, which keeps the cost per literal bounded by the window.
_ASSIGNED_TO_REVERSED = re.compile(r"""(?:["'][rbuRBU]?)?\s*[:=]\s*["'\]]{0,2}([A-Za-z0-9_.\-]+)""")
_WANDB_LOGIN = re.compile(r"\bwandb\s+login\b", re.IGNORECASE)
_ASSIGNMENT_WINDOW = 120
# `wandb.login(key=...)`, `WANDB_KEY=...`: a bare `key` is a credential's name only for a 40-hex value.
_KEY_NAME = re.compile(r"(?:^|[._\-])key$", re.IGNORECASE)


@dataclass(frozen=True)
class SecretMatch:
    """A credential found in a line of text: what kind, and where. The text itself is never reported."""

    kind: str
    start: int
    text: str

    def masked(self) -> str:
        """At most the first four characters (for most kinds, the public prefix that names the issuer)."""
        return self.text[:4] + "…"


def _assigned_name(before: str) -> str | None:
    match = _ASSIGNED_TO_REVERSED.match(before[::-1])
    return match.group(1)[::-1] if match else None


def _assigned_credential(line: str, token: re.Match[str]) -> str | None:
    value = token.group(0)
    before = line[max(0, token.start() - _ASSIGNMENT_WINDOW):token.start()]
    hex40 = bool(_HEX40.match(value))
    if hex40 and _WANDB_LOGIN.search(before):
        return "a 40-hex-digit API key (as Weights & Biases issues)"
    name = _assigned_name(before)
    if name is None:
        return None
    if hex40 and (is_secret_name(name) or _KEY_NAME.search(name)):
        return "a 40-hex-digit API key (as Weights & Biases issues)"
    # Under a credential's name, a literal mixing letters and digits (an AWS secret access key, a password):
    # placeholders such as `your-key-here` have no digits, references such as `${API_KEY}` no such run.
    if is_secret_name(name) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return f"a credential assigned to {name!r}"
    return None


def secrets_in_text(line: str) -> list[SecretMatch]:
    """Credentials in one line of free text: known token formats anywhere, and literals assigned to a
    credential-like name (40 hex digits under `key` too, as `wandb.login(key=...)` writes it)."""
    known = sorted((m.start(), m.end(), kind, m.group(0)) for kind, pattern in _SECRET_VALUES
                   for m in pattern.finditer(line))
    found = {start: SecretMatch(kind, start, text) for start, _, kind, text in reversed(known)}
    starts = [start for start, *_ in known]
    for token in _TOKEN.finditer(line):
        first = bisect.bisect_left(starts, token.start())
        if first < len(starts) and starts[first] < token.end():
            continue  # a known format inside this literal was already found
        kind = _assigned_credential(line, token)
        if kind is not None:
            found[token.start()] = SecretMatch(kind, token.start(), token.group(0))
    return [found[start] for start in sorted(found)]
