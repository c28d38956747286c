"""Command line: `homecheck run | serve | profiles | probes`.

Exit codes (also in --help and README):
  0  ready (every requirement passes, or passes with warnings)
  1  not ready (a required line fails)
  2  incomplete (a required line could not be measured), or a usage / input error
  130  stopped with Ctrl-C (the partial report is still written)
Only this module prints, writes files and picks the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from homecheck import __version__, aggregator, profiles, registry
from homecheck.metrics import BY_ID
from homecheck.model import ProbeResult, Report, Verdict
from homecheck.probe import Probe, ProbeOptions
from homecheck.runner import run_probes
from homecheck.server import command as serve_command
from homecheck.server.serve import ServeError
from reports import OutputFormat, render

EXIT_READY, EXIT_NOT_READY, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = {
    Verdict.PASS: EXIT_READY,
    Verdict.WARN: EXIT_READY,
    Verdict.FAIL: EXIT_NOT_READY,
    Verdict.NOT_MEASURED: EXIT_INCOMPLETE,
}

EPILOG = """\
exit codes:
  0    ready (all requirements pass, possibly with warnings)
  1    not ready (a required line fails)
  2    incomplete (a required line could not be measured) or a usage/input error
  130  stopped with Ctrl-C (a partial report is still shown and written)
"""


class UsageError(Exception):
    """Bad input from the user: shown as one line, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homecheck",
        description="Check whether this computer, network, microphone and room are ready for "
        "remote customer-service work (phone, chat, video).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"homecheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="measure and judge this setup against a profile",
        description="Measure this setup and judge it against a profile.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--profile",
        default=profiles.DEFAULT,
        metavar="NAME|PATH",
        help=f"built-in profile ({', '.join(profiles.BUILTIN)}) or a TOML file "
        f"(default: {profiles.DEFAULT})",
    )
    run.add_argument(
        "--only",
        metavar="AREA[,AREA]",
        help=f"measure only these areas (of: {', '.join(registry.names())})",
    )
    run.add_argument(
        "--json", metavar="PATH", help="also write the JSON report to PATH ('-' for stdout)"
    )
    run.add_argument(
        "--quiet", action="store_true", help="no live progress; print only the final report"
    )
    run.add_argument(
        "--server",
        metavar="URL",
        help="measure the network against an employer's `homecheck serve` "
        "(default: public speed-test servers)",
    )
    run.add_argument(
        "--duration",
        type=_seconds,
        metavar="SECONDS",
        help="run the call-like network stream this long to catch drops (default: a short test)",
    )
    run.add_argument(
        "--mic", metavar="NAME|INDEX", help="the microphone to test (default: the system's)"
    )
    speech = run.add_mutually_exclusive_group()
    speech.add_argument(
        "--speech",
        dest="speech",
        action="store_true",
        default=None,
        help="ask you to read a sentence aloud (default when run in a terminal)",
    )
    speech.add_argument(
        "--no-speech", dest="speech", action="store_false", help="skip the read-aloud check"
    )

    serve = sub.add_parser(
        "serve",
        help="run the network test server candidates measure against (homecheck run --server)",
        description="Serve speed-test streams and a UDP echo for `homecheck run --server`.",
    )
    serve_command.add_arguments(serve)

    sub.add_parser("profiles", help="list the built-in profiles")
    sub.add_parser("probes", help="list the measured areas and their metric ids")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 1 and 3600 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        match args.command:
            case "run":
                return _run(args)
            case "serve":
                return serve_command.run(args)
            case "profiles":
                return _profiles()
            case "probes":
                return _probes()
            case _:
                parser.print_help()
                return EXIT_INCOMPLETE
    except (UsageError, profiles.ProfileError, ServeError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        print("homecheck: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str) -> NoReturn:
    print(f"homecheck: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_INCOMPLETE)


def _select(only: str | None) -> tuple[Probe, ...]:
    available = registry.all_probes()
    if not only:
        return available
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    known = {p.name for p in available}
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        raise UsageError(
            f"--only: unknown area {', '.join(unknown) or '(empty)'} "
            f"(choose from: {', '.join(sorted(known))})"
        )
    return tuple(p for p in available if p.name in wanted)


def _check_writable(path: str | None) -> None:
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--json {path}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"--json {path}: folder {target.parent} does not exist")


def _run(args: argparse.Namespace) -> int:
    profile = profiles.load(args.profile)
    selected = _select(args.only)
    _check_writable(args.json)
    options = ProbeOptions(
        server=args.server,
        duration_s=args.duration,
        mic=args.mic,
        speech=sys.stdin.isatty() and sys.stdout.isatty() if args.speech is None else args.speech,
    )

    started_at = _now()
    show_progress = not args.quiet and sys.stderr.isatty()
    if show_progress:
        with _LiveProgress() as live:
            outcome = run_probes(selected, options, live)
    else:
        outcome = run_probes(selected, options, None if args.quiet else _PlainProgress())
    findings, overall = aggregator.judge(profile, outcome.results)
    report = Report(
        tool_version=__version__,
        profile=profile,
        started_at=started_at,
        finished_at=_now(),
        results=tuple(outcome.results),
        findings=findings,
        overall=overall,
        interrupted=outcome.interrupted,
    )

    json_to_stdout = args.json == "-"
    table_stream = sys.stderr if json_to_stdout else sys.stdout
    table_stream.write(render(report, OutputFormat.TERMINAL, color=table_stream.isatty()))
    if args.json:
        text = render(report, OutputFormat.JSON)
        if json_to_stdout:
            sys.stdout.write(text)
        else:
            try:
                Path(args.json).write_text(text, encoding="utf-8")
            except OSError as exc:
                _fail(f"--json {args.json}: cannot write ({exc.strerror})")
            print(f"JSON report written to {args.json}", file=sys.stderr)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_CODES[overall]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _profiles() -> int:
    for name in profiles.BUILTIN:
        profile = profiles.load(name)
        default = " (default)" if name == profiles.DEFAULT else ""
        print(f"{name:8} {profile.description}{default}")
    print("\nUse one with `homecheck run --profile NAME`, or give the path of your own TOML file.")
    return EXIT_READY


def _probes() -> int:
    for probe in registry.all_probes():
        print(f"{probe.name}: {probe.title}")
        for metric in probe.metrics:
            info = BY_ID[metric]
            unit = f" [{info.unit}]" if info.unit else ""
            print(f"  {metric:38} {info.label}{unit}")
    return EXIT_READY


class _PlainProgress:
    """One line per area on stderr when it is not a terminal (CI logs, pipes)."""

    def started(self, probe: Probe, expected_s: float) -> None:
        print(f"measuring {probe.title.lower()} (about {expected_s:.0f} s)...", file=sys.stderr)

    def progress(self, probe: Probe, fraction: float, message: str) -> None:
        pass

    def finished(self, probe: Probe, result: ProbeResult) -> None:
        state = "not measured: " + result.reason if result.reason else "done"
        print(f"  {probe.title.lower()}: {state} ({result.duration_s:.1f} s)", file=sys.stderr)


class _LiveProgress:
    """A rich progress bar per area: what is being measured and the time left."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _LiveProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def started(self, probe: Probe, expected_s: float) -> None:
        self._tasks[probe.name] = self._progress.add_task(
            f"Measuring {probe.title.lower()}", total=1.0, note=""
        )

    def progress(self, probe: Probe, fraction: float, message: str) -> None:
        self._progress.update(self._tasks[probe.name], completed=fraction, note=message)

    def finished(self, probe: Probe, result: ProbeResult) -> None:
        note = "not measured" if result.reason else f"done in {result.duration_s:.1f} s"
        self._progress.update(self._tasks[probe.name], completed=1.0, note=note)
