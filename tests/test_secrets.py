"""CW310 in every declared text file: code, notes, JSON and YAML configs, where keys are usually pasted.

The keys below have the real formats (40 hex digits for W&B, AKIA + 16 for AWS, ghp_ + 36 for GitHub, hf_ + 34 for
Hugging Face) but were never issued. The report is published with the pull request, so a found credential must
never be echoed into it: at most its first four characters.
"""

from __future__ import annotations

import json
import shutil

import pytest

from cwcontrib.checks import Options
from cwcontrib.limits import Limits
from cwcontrib.reporters import RENDERERS
from cwcontrib.secrets import secrets_in_text
from cwcontrib.validate import Report, validate
from tests.conftest import DEMO, Submission

WANDB_KEY = "3f9a1c0d7e5b2a4968c1f0e3d2b7a6c5e4f3d2c1"
AWS_KEY_ID = "AKIAZ7QK3MXD4PLR2VNB"
AWS_SECRET = "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"
GITHUB_TOKEN = "ghp_R4nd0mL00k1ngT0k3nF0rT3st1ngXyZ12345"
HF_TOKEN = "hf_kQ7rT2mX9pL4vN8sW3zB6yD1fH5jC0gAeU"
SECRETS = (WANDB_KEY, AWS_KEY_ID, AWS_SECRET, GITHUB_TOKEN, HF_TOKEN)

TRAIN_PY = f'''import wandb

def main():
    wandb.login(key="{WANDB_KEY}")
    run = wandb.init(project="crossedwires")
'''
NOTES_MD = f"""# Notes

Pushed with `git push https://{GITHUB_TOKEN}@github.com/me/repo` (commit 0123456789abcdef0123456789abcdef01234567).
"""
CONFIG_JSON = json.dumps({"hub": {"repo": "me/model", "token": HF_TOKEN}, "epochs": 20}, indent=2) + "\n"
CONFIG_YAML = f"""storage:
  bucket: s3://me/runs
  aws_access_key_id: {AWS_KEY_ID}
  aws_secret_access_key: {AWS_SECRET}
"""
PLANTED = {  # file -> (format, content, the lines that hold a credential)
    "code/train.py": ("python", TRAIN_PY, {4}),
    "notes.md": ("markdown", NOTES_MD, {3}),
    "config.json": ("json", CONFIG_JSON, {4}),
    "config.yaml": ("yaml", CONFIG_YAML, {3, 4}),
}
NO_REEVAL = Options(reeval=False)


def plant(submission: Submission) -> None:
    for rel, (fmt, content, _) in PLANTED.items():
        submission.write_file(rel, content, fmt)


def secret_lines(report: Report) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for f in report.findings:
        if f.code == "CW310":
            assert f.location.line is not None, f
            found.setdefault(f.location.file, set()).add(f.location.line)
    return found


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("secrets") / "digits-cnn-pair"
    shutil.copytree(DEMO, root)
    submission = Submission(root)
    plant(submission)
    return validate(root, options=NO_REEVAL)


def test_credentials_in_code_notes_and_configs_are_found_at_their_lines(planted_report: Report) -> None:
    assert secret_lines(planted_report) == {rel: lines for rel, (_, _, lines) in PLANTED.items()}


def test_found_credentials_are_never_echoed_into_any_report(planted_report: Report) -> None:
    for name, render in RENDERERS.items():
        output = render(planted_report)
        for secret in SECRETS:
            assert secret not in output, (name, secret)
            assert secret[4:12] not in output, (name, secret)  # nothing past a four-character prefix
    messages = [f.message for f in planted_report.findings if f.code == "CW310"]
    assert any("(3f9a…)" in m for m in messages), messages


def test_a_text_file_over_the_scan_limit_is_reported_not_skipped(submission: Submission) -> None:
    limit = max(p.stat().st_size for p in (submission.root / "code").iterdir())  # the demo's code is scanned
    submission.write_file("notes.md", f"token: {GITHUB_TOKEN}\n" + "x" * limit, "markdown")
    report = validate(submission.root, Limits(secret_scan_bytes=limit), options=NO_REEVAL)
    [skipped] = [f for f in report.findings if f.code in ("CW310", "CW326")]  # not scanned, so nothing found
    assert (skipped.code, skipped.location.file) == ("CW326", "notes.md")
    assert f"limit of {limit} bytes" in skipped.message


def test_an_unreadable_csv_is_still_scanned_as_text(submission: Submission) -> None:
    submission.write_file("extra.csv", f'a,b\n"unterminated,{GITHUB_TOKEN}\n', "csv")
    report = validate(submission.root, options=NO_REEVAL)
    assert secret_lines(report).get("extra.csv") == {2}, report.findings


@pytest.mark.parametrize("line", [
    f'wandb.login(key="{WANDB_KEY}")',
    f"WANDB_API_KEY={WANDB_KEY}",
    f'os.environ["WANDB_API_KEY"] = "{WANDB_KEY}"',
    f'  "wandb_api_key": "{WANDB_KEY}",',
    f"wandb login --relogin {WANDB_KEY}",
    f"aws_access_key_id = {AWS_KEY_ID}",
    f"aws_secret_access_key: {AWS_SECRET}",
    f"export GITHUB_TOKEN={GITHUB_TOKEN}",
    f"huggingface-cli login --token {HF_TOKEN}",
])
def test_credentials_in_a_line(line: str) -> None:
    assert secrets_in_text(line), line


@pytest.mark.parametrize("line", [
    "commit: 0123456789abcdef0123456789abcdef01234567",  # a git commit id is 40 hex digits too
    "sha256: " + "ab" * 32,
    'api_key = os.environ["WANDB_API_KEY"]',
    "secret_key: replace-me-with-your-own-key",
    'key = "model_state_dict"',
    "token: ${HF_TOKEN}",
])
def test_not_credentials(line: str) -> None:
    assert not secrets_in_text(line), line
