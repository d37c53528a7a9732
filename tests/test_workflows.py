""".github/workflows/ and .pre-commit-hooks.yaml: actionlint and zizmor (offline) find nothing, and the rules of the
security model hold, each written as a check that the tests also run against a copy broken on purpose."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
NAMES = ["comment.yml", "index.yml", "pages.yml", "reevaluate.yml", "release.yml", "test.yml", "validate.yml"]

# Every write permission a job holds, by workflow and job: anything added is a test failure to justify here.
WRITES = {
    ("comment.yml", "comment"): {"pull-requests", "statuses"},
    ("index.yml", "commit"): {"contents"},
    ("index.yml", "pages"): {"pages", "id-token"},
    ("pages.yml", "deploy"): {"pages", "id-token"},
    ("release.yml", "release"): {"id-token"},
    ("release.yml", "publish"): {"contents"},
    ("release.yml", "pages"): {"pages", "id-token"},
}
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")
LOCAL = re.compile(r"^\s*(?:-\s+)?uses:\s+\$/\.github/workflows/[\w.-]+\.yml\s*$")
IGNORE = re.compile(r"zizmor:\s*ignore\[([^\]]*)\]")

Texts = dict[str, str]


def _texts() -> Texts:
    return {name: (WORKFLOWS / name).read_text(encoding="utf-8") for name in NAMES}


def _load(text: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load(text)
    # YAML 1.1 reads the key `on` as a boolean.
    return {("on" if key is True else str(key)): value for key, value in raw.items()}


def _jobs(texts: Texts) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name, text in sorted(texts.items())
            for job_id, job in _load(text)["jobs"].items()]


def _steps(texts: Texts) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, step) for name, job_id, job in _jobs(texts) for step in job.get("steps", [])]


# ---- the rules: each returns its violations, empty when the workflows keep it ----

def pinned_by_sha(texts: Texts) -> list[str]:
    """Every `uses:` is a full commit sha with its version as a comment, or this repository's own workflow; one
    action, one sha across the files."""
    problems: list[str] = []
    shas: dict[str, set[str]] = {}
    for name, text in sorted(texts.items()):
        for number, line in enumerate(text.splitlines(), 1):
            if not re.match(r"^\s*(?:-\s+)?uses:", line):
                continue
            match = PINNED.match(line)
            if match:
                shas.setdefault(match["action"], set()).add(match["sha"])
            elif not LOCAL.match(line):
                problems.append(f"{name}:{number}: not pinned by a 40-hex sha with a # vX.Y.Z comment: {line.strip()}")
    problems += [f"{action} pinned at {len(s)} different shas" for action, s in sorted(shas.items()) if len(s) > 1]
    return problems


def least_privilege(texts: Texts) -> list[str]:
    """`permissions: {}` at the top of every workflow, `permissions:` on every job, and write access only where
    WRITES says."""
    problems = [f"{name}: top-level permissions must be {{}}" for name, text in sorted(texts.items())
                if _load(text).get("permissions") != {}]
    for name, job_id, job in _jobs(texts):
        if "permissions" not in job:
            problems.append(f"{name}/{job_id}: no permissions")
            continue
        perms = job["permissions"] or {}
        if not isinstance(perms, dict):
            problems.append(f"{name}/{job_id}: permissions must list scopes, not {perms!r}")
            continue
        writes = {scope for scope, level in perms.items() if level == "write"}
        if writes != WRITES.get((name, job_id), set()):
            expected = WRITES.get((name, job_id), set())
            problems.append(f"{name}/{job_id}: writes {sorted(writes)}, expected {sorted(expected)}")
    return problems


def no_credentials_left(texts: Texts) -> list[str]:
    """Every actions/checkout says persist-credentials: false."""
    return [f"{name}/{job_id}: checkout without persist-credentials: false" for name, job_id, step in _steps(texts)
            if str(step.get("uses", "")).startswith("actions/checkout@")
            and (step.get("with") or {}).get("persist-credentials") is not False]


def no_expressions_in_scripts(texts: Texts) -> list[str]:
    """No `${{ }}` inside a `run:` script: values reach scripts through `env:` only."""
    return [f"{name}/{job_id}: ${{{{ }}}} inside run: {step.get('name')}" for name, job_id, step in _steps(texts)
            if "${{" in str(step.get("run", ""))]


def untrusted_code_is_powerless(texts: Texts) -> list[str]:
    """validate.yml runs the pull request's code: on pull_request only, read-only, no secrets; no workflow uses
    pull_request_target."""
    problems = [f"{name}: pull_request_target" for name, text in texts.items()
                if "pull_request_target" in _load(text)["on"]]
    validate = texts.get("validate.yml", "")
    if "secrets." in validate:
        problems.append("validate.yml names a secret")
    data = _load(validate)
    if list(data["on"]) != ["pull_request"]:
        problems.append(f"validate.yml triggers on {list(data['on'])}")
    for job_id, job in data["jobs"].items():
        if job.get("permissions") != {"contents": "read"}:
            problems.append(f"validate.yml/{job_id}: permissions {job.get('permissions')}, not contents: read")
    return problems


def comment_never_runs_pr_code(texts: Texts) -> list[str]:
    """comment.yml: on workflow_run of validate; checks out only the default branch; reads the artifact's pull
    request number through env in a step that requires digits."""
    data = _load(texts["comment.yml"])
    problems = []
    if data["on"] != {"workflow_run": {"workflows": ["validate"], "types": ["completed"]}}:
        problems.append(f"comment.yml triggers on {data['on']}")
    steps = [s for _, _, s in _steps({"comment.yml": texts["comment.yml"]})]
    for step in steps:
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            ref = (step.get("with") or {}).get("ref")
            if ref != "${{ github.event.repository.default_branch }}":
                problems.append(f"comment.yml checks out {ref!r}, not the default branch")
    if not any("^[0-9]{1,9}$" in str(s.get("run", "")) for s in steps):
        problems.append("comment.yml does not check that the pull request number is digits")
    return problems


def gpu_job_is_gated(texts: Texts) -> list[str]:
    """reevaluate.yml: the self-hosted GPU runner, behind the gpu-reevaluation environment, read-only, exactly the
    dispatched sha."""
    data = _load(texts["reevaluate.yml"])
    problems = []
    if list(data["on"]) != ["workflow_dispatch"]:
        problems.append(f"reevaluate.yml triggers on {list(data['on'])}")
    for job_id, job in data["jobs"].items():
        if job.get("environment") != "gpu-reevaluation":
            problems.append(f"reevaluate.yml/{job_id}: environment {job.get('environment')!r}")
        if job.get("runs-on") != ["self-hosted", "gpu"]:
            problems.append(f"reevaluate.yml/{job_id}: runs on {job.get('runs-on')}")
        if job.get("permissions") != {"contents": "read"}:
            problems.append(f"reevaluate.yml/{job_id}: permissions {job.get('permissions')}")
        refs = [(s.get("with") or {}).get("ref") for s in job["steps"]
                if str(s.get("uses", "")).startswith("actions/checkout@")]
        if "${{ inputs.sha }}" not in refs:
            problems.append(f"reevaluate.yml/{job_id}: does not check out inputs.sha")
    return problems


def concurrency_everywhere(texts: Texts) -> list[str]:
    return [f"{name}: no concurrency group" for name, text in sorted(texts.items())
            if not (_load(text).get("concurrency") or {}).get("group")]


def pipefail_everywhere(texts: Texts) -> list[str]:
    """`shell: bash` for every run step (GitHub then runs `bash -eo pipefail`; its default is `bash -e` only)."""
    problems = [f"{name}: defaults.run.shell is not bash" for name, text in sorted(texts.items())
                if ((_load(text).get("defaults") or {}).get("run") or {}).get("shell") != "bash"]
    problems += [f"{name}/{job_id}: a step's own shell" for name, job_id, step in _steps(texts)
                 if "run" in step and step.get("shell", "bash") != "bash"]
    return problems


def only_justified_ignores(texts: Texts) -> list[str]:
    """The one zizmor ignore: comment.yml's workflow_run trigger (dangerous-triggers), which is the design."""
    found = [(name, rule) for name, text in sorted(texts.items()) for rule in IGNORE.findall(text)]
    return [] if found == [("comment.yml", "dangerous-triggers")] else [f"zizmor ignores: {found}"]


RULES: list[Callable[[Texts], list[str]]] = [
    pinned_by_sha, least_privilege, no_credentials_left, no_expressions_in_scripts, untrusted_code_is_powerless,
    comment_never_runs_pr_code, gpu_job_is_gated, concurrency_everywhere, pipefail_everywhere, only_justified_ignores]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_holds(rule: Callable[[Texts], list[str]]) -> None:
    assert rule(_texts()) == []


# Each rule, broken once on purpose in a copy: the check must see it.
BREAKS = [
    (pinned_by_sha, "validate.yml", "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
     "actions/checkout@v7"),
    (pinned_by_sha, "comment.yml", "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
     "actions/checkout@9c091bb21b7c1c1d1991bb908d89e4e9dddfe3e0 # v7.0.0"),
    (least_privilege, "validate.yml", "permissions: {}", "permissions: write-all"),
    (least_privilege, "validate.yml", "      contents: read", "      contents: read\n      pull-requests: write"),
    (least_privilege, "test.yml", "    permissions:\n      contents: read\n", ""),
    (no_credentials_left, "reevaluate.yml", "          fetch-depth: 0\n          persist-credentials: false",
     "          fetch-depth: 0"),
    (no_expressions_in_scripts, "validate.yml", 'printf \'%s\\n\' "$PR_NUMBER"',
     "printf '%s\\n' ${{ github.event.pull_request.number }}"),
    (untrusted_code_is_powerless, "validate.yml", "        env:\n          PR_NUMBER:",
     "        env:\n          TOKEN: ${{ secrets.GITHUB_TOKEN }}\n          PR_NUMBER:"),
    (untrusted_code_is_powerless, "validate.yml", "on:\n  pull_request:\n", "on:\n  pull_request_target:\n"),
    (comment_never_runs_pr_code, "comment.yml", "ref: ${{ github.event.repository.default_branch }}",
     "ref: ${{ github.event.workflow_run.head_sha }}"),
    (comment_never_runs_pr_code, "comment.yml", "^[0-9]{1,9}$", "^.+$"),
    (gpu_job_is_gated, "reevaluate.yml", "    environment: gpu-reevaluation\n", ""),
    (gpu_job_is_gated, "reevaluate.yml", "runs-on: [self-hosted, gpu]", "runs-on: ubuntu-24.04"),
    (gpu_job_is_gated, "reevaluate.yml", "ref: ${{ inputs.sha }}", "ref: main"),
    (concurrency_everywhere, "index.yml", "concurrency:\n  group: index\n  cancel-in-progress: false\n", ""),
    (pipefail_everywhere, "index.yml", "    shell: bash #", "    shell: sh #"),
    (pipefail_everywhere, "test.yml", "        run: ./.ci/run", "        shell: sh\n        run: ./.ci/run"),
    (only_justified_ignores, "validate.yml", "on:\n  pull_request:\n",
     "on:\n  pull_request: # zizmor: ignore[dangerous-triggers]\n"),
]


@pytest.mark.parametrize(("rule", "name", "old", "new"), BREAKS, ids=lambda v: getattr(v, "__name__", None))
def test_each_rule_sees_its_break(rule: Callable[[Texts], list[str]], name: str, old: str, new: str) -> None:
    texts = _texts()
    assert old in texts[name], "the break no longer applies: update it"
    texts[name] = texts[name].replace(old, new, 1)
    assert rule(texts), f"{rule.__name__} missed: {name}: {old!r} -> {new!r}"


# ---- actionlint and zizmor ----

def _tool_env() -> dict[str, str]:
    # zizmor reads a token from these and would go online for some audits; --offline forbids it anyway.
    return {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}}


def _actionlint(files: list[Path], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "actionlint"), "-no-color", "-oneline", "-config-file", str(config),
                           *map(str, files)], capture_output=True, text=True, env=_tool_env(), check=False)


def _zizmor(inputs: list[Path]) -> tuple[int, list[dict[str, Any]], str]:
    run = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-config", "--no-progress", "--format", "json",
                          "--collect=workflows,pre-commit", *map(str, inputs)],
                         capture_output=True, text=True, env=_tool_env(), check=False)
    try:
        findings: list[dict[str, Any]] = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        findings = [{"unparsed": run.stdout}]
    return run.returncode, findings, run.stderr


def test_actionlint_finds_nothing() -> None:
    run = _actionlint([WORKFLOWS / n for n in NAMES], REPO / ".github" / "actionlint.yaml")
    assert (run.returncode, run.stdout) == (0, ""), run.stdout + run.stderr


def test_every_workflow_is_linted() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == NAMES


def test_zizmor_finds_nothing() -> None:
    rc, findings, stderr = _zizmor([WORKFLOWS, REPO / ".pre-commit-hooks.yaml"])
    assert (rc, findings) == (0, []), json.dumps(findings, indent=1)[:4000] + stderr
    audited = stderr.replace(str(REPO) + "/", "")
    for name in [".pre-commit-hooks.yaml", *(f".github/workflows/{n}" for n in NAMES)]:
        assert f"completed {name}\n" in audited, audited


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert old in text
    (folder / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    for other in NAMES:  # index.yml and release.yml call pages.yml
        if other != name:
            shutil.copy(WORKFLOWS / other, folder / other)
    return folder / name


def test_zizmor_sees_a_broken_copy(tmp_path: Path) -> None:
    broken = _broken_copy(tmp_path, "validate.yml", "        run: ./scripts/bootstrap",
                          '        run: echo "${{ github.event.pull_request.title }}"')
    rc, findings, _ = _zizmor([broken])
    assert rc >= 10  # zizmor's exit codes for findings (10 + the highest severity); 1 and 2 are its own errors
    assert "template-injection" in {f.get("ident") for f in findings}


def test_actionlint_sees_a_broken_copy(tmp_path: Path) -> None:
    broken = _broken_copy(tmp_path, "reevaluate.yml", "runs-on: [self-hosted, gpu]", "runs-on: [self-hosted, gpu, tpu]")
    run = _actionlint([broken], REPO / ".github" / "actionlint.yaml")
    assert run.returncode != 0
    assert 'label "tpu" is unknown' in run.stdout


# ---- the pre-commit hook ----

def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["cwcontrib-validate"]
    hook: dict[str, Any] = hooks[0]
    return hook


def test_the_hook_runs_python_on_submission_files_only() -> None:
    hook = _hook()
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("submissions/my-sub/submission.yaml")
    assert files.search("submissions/my-sub/weights/t01.safetensors")
    assert not files.search("cwcontrib/cli.py")
    assert not files.search("submissions/README.md")
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["python", "-c"]
    assert '"-m", "cwcontrib", "validate"' in argv[2]


def test_the_hook_installs_extras_that_exist() -> None:
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    deps = _hook()["additional_dependencies"]
    assert len(deps) == 1
    match = re.fullmatch(r"\.\[([a-z,]+)\]", deps[0])
    assert match, deps
    named = match[1].split(",")
    assert {"torch", "tf"} <= set(named) <= set(extras)


def _run_hook(cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(_hook()["entry"])
    # pre-commit runs `entry` in an environment where the package is installed, with the file names appended.
    return subprocess.run([sys.executable, *argv[1:], *files], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})


def test_the_hook_validates_each_changed_submission_folder_once(tmp_path: Path) -> None:
    for sub in ("broken-a", "broken-b"):
        (tmp_path / "submissions" / sub).mkdir(parents=True)
        (tmp_path / "submissions" / sub / "submission.yaml").write_text("schema_version: [\n")
    (tmp_path / "submissions" / "broken-a" / "notes.md").write_text("x")
    run = _run_hook(tmp_path, ["submissions/broken-a/submission.yaml", "submissions/broken-a/notes.md",
                               "submissions/broken-b/submission.yaml"])
    assert run.returncode == 1, run.stdout + run.stderr
    # `cwcontrib validate` itself ran, once per folder, and named the manifest's syntax error.
    assert run.stdout.count("CW104") == 2, run.stdout
    assert run.stdout.count("broken-a: INVALID") == 1 and run.stdout.count("broken-b: INVALID") == 1


def test_the_hook_passes_when_no_submission_changed(tmp_path: Path) -> None:
    run = _run_hook(tmp_path, [])
    assert (run.returncode, run.stdout) == (0, "")


def test_the_hook_command_exists() -> None:
    run = subprocess.run([sys.executable, "-m", "cwcontrib", "validate", "--help"], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0
    for flag in ("--no-reeval", "--quiet"):
        assert flag in run.stdout
