"""The re-evaluation sample cannot be steered: it is drawn with a seed fixed after submission, recorded."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from cwcontrib import cli
from cwcontrib.checks import Options
from cwcontrib.checks.evaluation import SEED_ENV_VAR, Seed, parse_seed, resolve_seed, sample_trials
from cwcontrib.validate import validate
from tests.conftest import Submission


def fake_trials(n: int = 10) -> list[Any]:
    return [SimpleNamespace(id=f"t{i:02d}") for i in range(1, n + 1)]


def test_the_same_content_gets_different_samples_under_different_seeds() -> None:
    # What a contributor controls (the content) no longer decides the sample on its own.
    content = hashlib.sha256(b"one submission").hexdigest()
    samples = {tuple(t.id for t in sample_trials(fake_trials(), 2, Seed(f"{i:x}", "--seed").mixed_with(content)))
               for i in range(40)}
    assert len(samples) > 5


def test_the_seed_and_its_source_are_recorded(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SEED_ENV_VAR, raising=False)
    report = validate(submission.root, options=Options(sample=2, device="cpu", seed="C0FFEE"))
    evaluation = report.extra["evaluation"]
    seed = evaluation["seed"]
    assert seed["value"] == "c0ffee" and seed["source"] == "--seed"
    assert seed["sample_digest"] == hashlib.sha256(f"c0ffee:{evaluation['content_digest']}".encode()).hexdigest()
    pool = fake_trials(5)
    assert evaluation["sample"]["trials"] == [t.id for t in sample_trials(pool, 2, seed["sample_digest"])]


def test_the_environment_variable_is_the_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEED_ENV_VAR, "ABC123")
    assert resolve_seed(Options()) == Seed("abc123", "$CWCONTRIB_SEED")
    assert resolve_seed(Options(seed="ff")) == Seed("ff", "--seed")  # the option wins


def test_without_a_seed_the_sample_is_random_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SEED_ENV_VAR, raising=False)
    first, second = resolve_seed(Options()), resolve_seed(Options())
    assert first.source == second.source == "random"
    assert len(first.value) == 32 and first.value != second.value
    assert "os.urandom" in first.as_dict("00")["note"]


@pytest.mark.parametrize("text", ["", "xyz", "0x12", "a" * 257, "12 34"])
def test_a_seed_is_hex(text: str) -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        parse_seed(text)


def test_a_bad_seed_on_the_command_line_is_a_usage_error(submission: Submission,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["validate", str(submission.root), "--seed", "not-hex"])
    assert exit_.value.code == 2 and "hexadecimal" in capsys.readouterr().err


def test_a_bad_seed_in_the_environment_is_an_internal_error_not_a_clean_pass(
        submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEED_ENV_VAR, "not-hex")
    report = validate(submission.root, options=Options(sample=1, device="cpu"))
    assert not report.ok
    assert any(f.code == "CW001" and "$CWCONTRIB_SEED" in f.message for f in report.findings)
