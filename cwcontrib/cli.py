"""The `cwcontrib` command line. Exit codes: 0 clean, 1 findings with errors, 2 usage errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cwcontrib import __version__
from cwcontrib.checks.base import Options, ProgressSink

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class RichProgress(ProgressSink):
    """A rich progress bar on stderr, for terminals only."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._progress = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), transient=True)
        self._task: Any = None

    def start(self, description: str, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        self._progress.stop()
        self._task = None


def progress_sink(quiet: bool) -> ProgressSink:
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return ProgressSink()
    return RichProgress()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _write(text: str, output: str | None) -> None:
    data = text.encode("utf-8", errors="backslashreplace")  # a report must always be writable
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from cwcontrib.atomic import ordinary_mode, write_bytes_atomic

    # Atomic, and written into `-o /dev/null` or a pipe rather than renamed over it.
    write_bytes_atomic(Path(output), data, mode=ordinary_mode())


def cmd_validate(args: argparse.Namespace) -> int:
    from cwcontrib.reporters import RENDERERS, render_github
    from cwcontrib.validate import run_validation

    root = Path(args.path)
    if not root.is_dir():
        print(f"cwcontrib: {args.path} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    options = Options(reeval=not args.no_reeval, sample=args.sample, all_trials=args.all, device=args.device,
                      data_dir=Path(args.data_dir) if args.data_dir else None, seed=args.seed, fetch=args.fetch,
                      workers=None)
    validation = run_validation(root, progress=progress_sink(args.quiet), options=options)
    report = validation.report
    if args.record:
        from cwcontrib.catalog.verification import record_validation

        for path in record_validation(validation, Path(args.record), produced_by="cwcontrib validate --record"):
            print(f"recorded {path}", file=sys.stderr)
    if args.format == "github":
        prefix = args.path.rstrip("/") + "/"
        text = render_github(report, prefix)
    else:
        text = RENDERERS[args.format](report)
    _write(text, args.output)
    if args.output is not None and not args.quiet:
        print(RENDERERS["text"](report).splitlines()[-1], file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FINDINGS


def cmd_render(args: argparse.Namespace) -> int:
    """A saved JSON report in another format, without validating again (the same bytes as `validate --format`)."""
    from cwcontrib.github.report import ReportRefused, load_report
    from cwcontrib.reporters import RENDERERS, render_github

    try:
        report = load_report(Path(args.report))
    except (ReportRefused, OSError) as exc:
        print(f"cwcontrib: {args.report}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "github":
        text = render_github(report, args.path.rstrip("/") + "/" if args.path else "")
    else:
        text = RENDERERS[args.format](report)
    _write(text, args.output)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from cwcontrib.codes import explain, lookup

    entry = lookup(args.code)
    if entry is None:
        print(f"cwcontrib: unknown finding code {args.code!r}; `cwcontrib codes` lists them", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(explain(entry))
    return EXIT_OK


def cmd_codes(args: argparse.Namespace) -> int:
    from cwcontrib.codes import REGISTRY, findings_markdown

    if args.markdown:
        sys.stdout.write(findings_markdown())
        return EXIT_OK
    for entry in sorted(REGISTRY.values(), key=lambda c: c.code):
        print(f"{entry.code}  {entry.severity.value:<7}  {entry.stage:<9}  {entry.name:<28}  {entry.summary}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from cwcontrib.schema import render_schema

    sys.stdout.write(render_schema(args.schema_version))
    return EXIT_OK


def cmd_artifacts(args: argparse.Namespace) -> int:
    from cwcontrib.artifacts import artifact_entries_yaml

    root = Path(args.path)
    if not root.is_dir():
        print(f"cwcontrib: {args.path} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(artifact_entries_yaml(root))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from cwcontrib.scaffold import ScaffoldError, scaffold

    try:
        created = scaffold(Path(args.path), architecture=args.architecture, dataset=args.dataset,
                           frameworks=args.frameworks, trials=args.trials)
    except ScaffoldError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(created)
    return EXIT_OK


def cmd_checksum(args: argparse.Namespace) -> int:
    from cwcontrib.checksum import run_checksum

    return run_checksum(Path(args.path), check=args.check, out=sys.stdout, err=sys.stderr)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seed(text: str) -> str:
    from cwcontrib.checks.evaluation import parse_seed

    try:
        return parse_seed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_architectures(args: argparse.Namespace) -> int:
    import json

    from cwcontrib.architectures import ArchitectureError
    from cwcontrib.architectures.library import compare_names, listing

    if args.check is not None:
        return _check_architectures(args.check)
    if not args.compare:
        sys.stdout.write(listing())
        return EXIT_OK
    try:
        height, width, channels = args.input_shape
        verdict = compare_names(args.compare[0], args.compare[1], (height, width, channels), args.num_classes)
    except ArchitectureError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _check_architectures(requested: list[str]) -> int:
    """`cwcontrib architectures --check [NAME ...]`: every missing part, one line each (CONTRIBUTING.md section 10)."""
    from cwcontrib.architectures import ArchitectureError, names
    from cwcontrib.architectures.parts import missing_parts

    checked = requested or names()
    try:
        missing = [line for name in checked for line in missing_parts(name)]
    except ArchitectureError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in missing:
        print(line)
    incomplete = len({line.split(": ", 1)[0] for line in missing})
    print(f"{len(checked)} reference architecture(s) checked, {incomplete} incomplete", file=sys.stderr)
    return EXIT_FINDINGS if missing else EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from cwcontrib.datasets import REGISTRY, describe

    if args.show is not None:
        if args.show not in REGISTRY:
            print(f"cwcontrib: unknown dataset {args.show!r}; known: {', '.join(sorted(REGISTRY))}", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.write(describe(args.show))
        return EXIT_OK
    for info in REGISTRY.values():
        sizes = ", ".join(f"{split} {size:,}" for split, size in info.split_sizes.items())
        print(f"{info.name}: {info.title}; {info.num_classes} classes; {sizes}; {'x'.join(map(str, info.shape))}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from cwcontrib.datasets.files import DATA_ENV_VAR, DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(prog="cwcontrib", description="Validate and index CrossedWires submissions.")
    parser.add_argument("--version", action="version", version=f"cwcontrib {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a submission folder")
    validate.add_argument("path", help="the submission folder")
    validate.add_argument("--format", choices=("text", "json", "markdown", "github"), default="text")
    validate.add_argument("--output", "-o", help="write the report to this file instead of stdout")
    validate.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    validate.add_argument("--record", metavar="DIR",
                          help="write a verification record per re-evaluated run into DIR/<submission>/ "
                               "(trusted runs only: a maintainer's machine, the GPU job)")
    validate.add_argument("--fetch", action="store_true",
                          help="download weights declared by URI only (HTTPS, at most their declared size, "
                               "sha256-checked before they are read, cached) and check them like local ones")
    reeval = validate.add_argument_group("re-evaluation (stage 5)")
    reeval.add_argument("--sample", type=_positive_int, default=Options.sample, metavar="K",
                        help="re-evaluate K trials, drawn with the seed (default %(default)s)")
    reeval.add_argument("--seed", type=_seed, metavar="HEX",
                        help="seed of the sample, fixed after the submission (e.g. base head + PR head sha), mixed "
                             "with the submission's digest (default: $CWCONTRIB_SEED, else random)")
    reeval.add_argument("--all", action="store_true", help="re-evaluate every trial")
    reeval.add_argument("--no-reeval", action="store_true", help="skip re-evaluation")
    reeval.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where PyTorch runs evaluate (default: cuda when available)")
    reeval.add_argument("--data-dir", help=f"local dataset folder (default: ${DATA_ENV_VAR}, else {DEFAULT_DATA_DIR})")
    validate.set_defaults(func=cmd_validate)

    render = commands.add_parser("render", help="render a saved JSON report (validate --format json) in another format")
    render.add_argument("report", help="the JSON report, treated as untrusted data")
    render.add_argument("--format", choices=("text", "markdown", "github"), default="markdown")
    render.add_argument("--path", help="the submission folder the report is about (file names in annotations)")
    render.add_argument("--output", "-o", help="write to this file instead of stdout")
    render.set_defaults(func=cmd_render)

    explain = commands.add_parser("explain", help="document one finding code")
    explain.add_argument("code", help="a code such as CW304, or its name such as accuracy-not-k-over-n")
    explain.set_defaults(func=cmd_explain)

    codes = commands.add_parser("codes", help="list every finding code")
    codes.add_argument("--markdown", action="store_true", help="print docs/findings.md")
    codes.set_defaults(func=cmd_codes)

    from cwcontrib.models import SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS

    schema = commands.add_parser("schema", help="print the submission JSON Schema")
    schema.add_argument("schema_version", nargs="?", default=SCHEMA_VERSION, choices=SUPPORTED_SCHEMA_VERSIONS,
                        help=f"which version (default: the newest, {SCHEMA_VERSION})")
    schema.set_defaults(func=cmd_schema)

    artifacts = commands.add_parser("artifacts", help="print `artifacts` entries for the files of a folder")
    artifacts.add_argument("path", help="the submission folder")
    artifacts.set_defaults(func=cmd_artifacts)

    init = commands.add_parser("init", help="create a submission folder ready to fill: manifest, trials table, folders")
    init.add_argument("path", help="the new submission folder (absent or empty)")
    init.add_argument("--architecture", required=True, help="registry name (`cwcontrib architectures`)")
    init.add_argument("--dataset", required=True, help="registry name (`cwcontrib datasets`)")
    init.add_argument("--frameworks", required=True, metavar="KEY,KEY",
                      help="framework keys, comma-separated: pytorch, keras (TensorFlow/Keras 3)")
    init.add_argument("--trials", type=_positive_int, default=1, metavar="N",
                      help="rows of the trials table (default %(default)s)")
    init.set_defaults(func=cmd_init)

    checksum = commands.add_parser("checksum", help="fill in size and sha256 of every file in the manifest")
    checksum.add_argument("path", help="the submission folder")
    checksum.add_argument("--check", action="store_true",
                          help="change nothing; exit 1 if the manifest's artifacts would change")
    checksum.set_defaults(func=cmd_checksum)

    architectures = commands.add_parser(
        "architectures", help="list the trusted architectures by route: registry, torchvision, keras.applications")
    architectures.add_argument("--compare", nargs=2, metavar=("A", "B"),
                               help="print the pair verdict (JSON) of two architectures by name instead")
    architectures.add_argument("--input-shape", nargs=3, type=int, default=[32, 32, 3], metavar=("H", "W", "C"))
    architectures.add_argument("--num-classes", type=int, default=10)
    architectures.add_argument("--check", nargs="*", metavar="NAME",
                               help="check that registry architectures (all when none is named) have every part "
                                    "(CONTRIBUTING.md section 10): one line per missing part, exit 1 if any")
    architectures.set_defaults(func=cmd_architectures)

    datasets = commands.add_parser("datasets", help="list the registered datasets")
    datasets.add_argument("--show", metavar="NAME",
                          help="print NAME's evaluation split exactly: examples, order, sha256 (dataset.sha256)")
    datasets.set_defaults(func=cmd_datasets)

    from cwcontrib.catalog.cli import add_commands
    from cwcontrib.github.cli import add_commands as add_github_commands
    from cwcontrib.importers.wandb import add_commands as add_import_commands
    from cwcontrib.site.cli import add_commands as add_site_commands

    add_commands(commands)
    add_import_commands(commands)
    add_site_commands(commands)
    add_github_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Frameworks are imported lazily, later; these quiet TensorFlow's start-up logs and pin Keras to
    # the backend the reference builders are written for.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    args = build_parser().parse_args(argv)
    if args.command == "validate" and args.device == "cuda" and not _cuda_available():
        print("cwcontrib: --device cuda asked for, but torch sees no CUDA device", file=sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # e.g. `cwcontrib codes | head`
        sys.stderr.close()
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
