"""Command line: `homecheck run | serve | admin | verify | report | profiles | probes | devices`.

Exit codes (also in --help and README):
  0  ready (every requirement passes, or passes with warnings)
  1  not ready (a required line fails)
  2  incomplete (a required line could not be measured), or a usage / input error, or an
     output file could not be written (the others are; a previous file there is kept)
  130  stopped with Ctrl-C (the partial report is still written)
  141  stdout was closed by its reader (`homecheck ... | head`), as shells report SIGPIPE
Only this module prints, writes files (through homecheck/output_files.py) and picks the exit code.
The files are written before the table is printed, so nothing on the terminal can lose them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

import platformdirs

from homecheck import __version__, aggregator, output_files, profiles, registry
from homecheck import invite as invite_client
from homecheck.errors import HomecheckError, UsageError
from homecheck.hub import admin as admin_command
from homecheck.hub import verify as verify_command
from homecheck.metrics import BY_ID
from homecheck.model import Report, Verdict
from homecheck.output_files import Output
from homecheck.probe import STABILITY_WINDOW_S, Probe, ProbeOptions, PublicBackend
from homecheck.progress import LiveProgress, PlainProgress
from homecheck.runner import run_probes
from homecheck.server import command as serve_command
from reports import OutputFormat, json_report, render, vocabulary

EXIT_READY, EXIT_NOT_READY, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 128 + 13  # 141: how shells report a writer killed by SIGPIPE (13)
MAX_DURATION_S = 3600  # --duration: an hour is plenty to catch drops
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
  2    incomplete (a required line could not be measured), a usage/input error, or an
       output file that could not be written (the others still are)
  130  stopped with Ctrl-C (a partial report is still shown and written)
  141  the output's reader closed the pipe early (as shells report SIGPIPE)
"""


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
    _add_outputs(run, json=True)
    run.add_argument(
        "--quiet", action="store_true", help="no live progress; print only the final report"
    )
    _add_brief(run)
    run.add_argument(
        "--log-file",
        metavar="PATH",
        help=f"append warnings and the tracebacks of unexpected errors to PATH "
        f"(default: {default_log()}, skipped if it cannot be written)",
    )
    run.add_argument(
        "--server",
        metavar="URL",
        help="measure the network against an employer's `homecheck serve` "
        "(default: public speed-test servers)",
    )
    run.add_argument(
        "--public-backend",
        type=_public_backend,
        metavar="|".join(PublicBackend),
        help="without --server, the public speed test to contact: speedtest (speedtest.net), "
        "cloudflare (speed.cloudflare.com) or auto: speedtest.net, then Cloudflare if "
        "speedtest.net refuses, fails or is blocked (default: auto)",
    )
    run.add_argument(
        "--invite",
        metavar="LINK",
        help="take an employer's test: its profile and server come from the link; the report "
        f"is sent to the employer after you agree (the JSON report, with the server's receipt, "
        f"goes to --json, default {INVITE_JSON})",
    )
    run.add_argument(
        "--yes",
        action="store_true",
        help="with --invite: agree to send the report without being asked (scripted use)",
    )
    run.add_argument(
        "--duration",
        type=_seconds,
        metavar="SECONDS",
        help=f"run the call-like network stream this long to catch drops, judged in "
        f"{STABILITY_WINDOW_S:g} s windows ({STABILITY_WINDOW_S:g} to {MAX_DURATION_S} seconds; "
        "default: a short test)",
    )
    run.add_argument(
        "--dns-names",
        type=_names,
        metavar="NAME[,NAME]",
        help="time DNS lookups of these names (default: a few big sites)",
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
    serve_command.add_web_arguments(serve)

    admin = sub.add_parser(
        "admin",
        help="the employer server's commands: users, invites, candidates, retention",
        description="Manage the employer server's store: accounts, invites, the candidate list, "
        "deletion and retention. Needs the server extra (pip install 'homecheck[serve]').",
    )
    admin_command.add_arguments(admin)

    verify = sub.add_parser(
        "verify",
        help="check the server's signed receipt inside a submitted report",
        description="Check that a report is exactly the one the employer's server received and "
        "signed (its receipt), offline with --key or with the server's published keys.",
        epilog=verify_command.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify_command.add_arguments(verify)

    report = sub.add_parser(
        "report",
        help="show a saved JSON report again, or turn it into HTML / Markdown",
        description="Read a JSON report written by `homecheck run --json` and show it, or write "
        "it as HTML or Markdown. Exit code 0 when done; 2 when the file is not a usable report.",
    )
    report.add_argument("file", metavar="REPORT.json", help="a saved JSON report ('-' for stdin)")
    _add_outputs(report, json=False)
    _add_brief(report)

    sub.add_parser("profiles", help="list the built-in profiles")
    sub.add_parser("probes", help="list the measured areas and their metric ids")
    sub.add_parser(
        "devices",
        help="list the microphones (exit 1 if there is none)",
        description="List the microphones (input devices); pick one with `run --mic`.",
    )
    return parser


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or not all(len(n) <= 253 and " " not in n for n in names):
        raise argparse.ArgumentTypeError(f"not a comma-separated list of host names: {text!r}")
    return names


# The files a run or a saved report can be written as, besides the table on the terminal.
FILE_OUTPUTS = (
    ("json", OutputFormat.JSON, "the JSON report (for machines; `homecheck report` reads it)"),
    ("html", OutputFormat.HTML, "a self-contained HTML report with charts (opens offline, prints)"),
    (
        "markdown",
        OutputFormat.MARKDOWN,
        "a short Markdown summary for an e-mail or a hiring system",
    ),
)


# The characters the terminal report needs beyond ASCII: its box, the verdict icons, the dash.
UNICODE_TABLE = "┏━┳┃┡╇│├┼└┴┘✔✘—"


def _add_outputs(parser: argparse.ArgumentParser, *, json: bool) -> None:
    for name, _, what in FILE_OUTPUTS:
        if name == "json" and not json:
            continue
        parser.add_argument(
            f"--{name}", metavar="PATH", help=f"also write {what} to PATH ('-' for stdout)"
        )


def _add_brief(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--brief",
        action="store_true",
        help="on the terminal, only the verdict and what to fix first (no table of every line)",
    )


def _public_backend(text: str) -> PublicBackend:
    try:
        return PublicBackend(text.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not one of {', '.join(PublicBackend)}"
        ) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not STABILITY_WINDOW_S <= value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(
            f"must be between {STABILITY_WINDOW_S:g} and {MAX_DURATION_S} seconds (the stream is "
            f"judged in {STABILITY_WINDOW_S:g} s windows)"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = _command(parser, args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except HomecheckError as exc:  # str() is the one line for the user (homecheck/errors.py)
        _fail(str(exc))
    except KeyboardInterrupt:
        print("homecheck: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`homecheck probes | head`): stop quietly, and keep Python's exit
        # flush of stdout from raising again (Python docs, signal module, "Note on SIGPIPE").
        # Exit as a shell reports a writer killed by SIGPIPE, never 1 ("not ready").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    match args.command:
        case "run":
            return _run(args)
        case "serve":
            return serve_command.run(args)
        case "admin":
            return admin_command.run(args)
        case "verify":
            return verify_command.run(args)
        case "report":
            return _report(args)
        case "profiles":
            return _profiles()
        case "probes":
            return _probes()
        case "devices":
            return _devices()
        case _:
            parser.print_help()
            return EXIT_INCOMPLETE


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


def _outputs(args: argparse.Namespace, inputs: Sequence[tuple[str, str]]) -> list[Output]:
    """The files asked for, checked before anything is measured (homecheck/output_files.py)."""
    wanted = [
        Output(f"--{name}", fmt, getattr(args, name))
        for name, fmt, _ in FILE_OUTPUTS
        if getattr(args, name, None) is not None
    ]
    output_files.check(wanted, inputs)
    return wanted


def _deliver(report: Report, outputs: Sequence[Output], *, table: bool, brief: bool = False) -> int:
    """Write the files first, so that nothing on the terminal can lose them, then the stdout
    output, then the table and the list of what to fix, then where the files went. One file that
    cannot be written does not stop the others: it is named on stderr and the exit code is 2.
    Returns 2 when a file could not be written, else 0."""
    # Everything is rendered before anything is written: no half-written set of files. A loaded
    # report is a valid one, so an error while rendering is a bug and keeps its traceback.
    texts = [(output, render(report, output.fmt)) for output in outputs]
    notes: list[str] = []
    failed = False
    for output, text in texts:
        if output.path == output_files.STDOUT:
            continue
        try:
            output_files.write(output.path, text)
        except OSError as exc:
            failed = True
            notes.append(
                f"homecheck: error: {output.option} {output.path}: cannot write "
                f"({exc.strerror or exc}); any file already there is unchanged"
            )
        else:
            notes.append(f"{output.fmt.value.upper()} report written to {output.path}")
    for output, text in texts:
        if output.path == output_files.STDOUT:
            _emit_bytes(text)
    if table:
        stream = sys.stderr if any(o.path == output_files.STDOUT for o in outputs) else sys.stdout
        _show_table(report, stream, brief=brief)
    for note in notes:
        _say(note, sys.stderr)
    return EXIT_INCOMPLETE if failed else EXIT_READY


def _show_table(report: Report, stream: TextIO, *, brief: bool) -> None:
    """The terminal report on `stream`, in box characters and ✔/✘ when its encoding has them,
    else in ASCII (a redirected stdout on Windows is cp1252; an old console, cp437)."""
    plain = not _can_encode(stream, UNICODE_TABLE)
    text = render(
        report, OutputFormat.TERMINAL, color=stream.isatty(), ascii_only=plain, brief=brief
    )
    _say(text, stream)


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _say(text: str, stream: TextIO) -> None:
    """Write text a stream's encoding may not hold (a device or process name in another script on
    a cp1252 stdout): what it cannot encode is written as a \\u escape, never a crash."""
    if not text.endswith("\n"):
        text += "\n"
    encoding = getattr(stream, "encoding", None) or "utf-8"
    with suppress(LookupError):
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    stream.write(text)


def _emit_bytes(text: str) -> None:
    """A file format sent to stdout (`--json -`) is UTF-8 bytes whatever the console's code page:
    JSON must be UTF-8 (RFC 8259), and `homecheck report` reads it back as UTF-8."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def _run(args: argparse.Namespace) -> int:
    employer = _invite(args) if args.invite is not None else None
    profile = profiles.load(args.profile) if employer is None else employer.profile
    selected = _select(args.only)
    if employer is not None:
        employer.consent = _consent(employer, [p.name for p in selected], args.yes)
    inputs = [("--profile", args.profile)] if Path(args.profile).is_file() else []
    if args.log_file:
        inputs.append(("--log-file", args.log_file))
    outputs = _outputs(args, inputs)
    if args.mic is not None and any(p.name == "audio" for p in selected):
        from probes.audio import devices as audio_devices

        problem = audio_devices.validate_mic(args.mic)
        if problem:
            raise UsageError(problem)
    if args.server is not None:  # a bad address is a usage error, before anything is measured
        from probes.network.employer.session import address_problem

        if problem := address_problem(args.server):
            raise UsageError(problem)
        if args.public_backend is not None:
            raise UsageError(
                "--public-backend chooses a public speed test, used only without --server"
            )
    show_progress = not args.quiet and sys.stderr.isatty()
    # The sentence to read is shown in the live progress display, so only ask when it is shown.
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and show_progress
    options = ProbeOptions(
        server=args.server if employer is None else employer.invite.speed_test,
        invite=employer.invite.link.secret if employer and employer.consent else None,
        on_test_session=employer.test_sessions.append if employer else None,
        duration_s=args.duration,
        mic=args.mic,
        dns_names=args.dns_names or (),
        public_backend=args.public_backend or PublicBackend.AUTO,
        speech=interactive if args.speech is None else args.speech,
    )

    with _log_to(args.log_file) as log_file:
        started_at = _now()
        if show_progress:
            with LiveProgress() as live:
                outcome = run_probes(selected, options, live)
        else:
            outcome = run_probes(selected, options, None if args.quiet else PlainProgress())
    # What was measured is judged and written even if Ctrl-C comes again now (it takes well under
    # a second); that Ctrl-C still ends the run as stopped.
    with _sigint_deferred() as late_ctrl_c:
        judgement = aggregator.judge(profile, outcome.results)
        report = Report(
            tool_version=__version__,
            profile=profile,
            started_at=started_at,
            finished_at=_now(),
            results=tuple(outcome.results),
            findings=judgement.findings,
            areas=judgement.areas,
            overall=judgement.overall,
            interrupted=outcome.interrupted,
        )
        written = _deliver(report, outputs, table=True, brief=args.brief)
    if employer is not None and employer.consent and not outcome.interrupted:
        written = _submit(employer, report, outputs) or written
    if log_file is not None and log_file.error_count:
        print(
            f"homecheck: a check failed unexpectedly: traceback in {log_file.path}", file=sys.stderr
        )
    if outcome.interrupted or late_ctrl_c.is_set():
        return EXIT_INTERRUPTED
    return written or EXIT_CODES[judgement.overall]


INVITE_JSON = "homecheck-report.json"


class _Employer:
    """An invite being taken: what it said, the consent given, the test sessions opened."""

    def __init__(self, invite: invite_client.Invite) -> None:
        self.invite = invite
        self.profile = profiles.parse(
            invite.profile_toml, source=f"{invite.profile_name}@{invite.profile_version}"
        )
        self.consent = False
        self.test_sessions: list[str] = []


def _invite(args: argparse.Namespace) -> _Employer:
    """The invite fetched before anything is measured; its JSON report goes to a file."""
    if args.server is not None:
        raise UsageError("--invite names the test server itself: leave out --server")
    if args.public_backend is not None:
        raise UsageError("--invite names the test server itself: leave out --public-backend")
    link = invite_client.parse_link(args.invite)
    if args.json is None:
        args.json = INVITE_JSON
    return _Employer(invite_client.fetch(link))


def _consent(employer: _Employer, areas: list[str], yes: bool) -> bool:
    _say(invite_client.consent_text(employer.invite, areas), sys.stderr)
    if yes:
        return True
    if not sys.stdin.isatty():
        _say("homecheck: not a terminal and no --yes: the report will not be sent", sys.stderr)
        return False
    sys.stderr.write(f"Send the report to {employer.invite.link.host}? [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        answer = ""
    agreed = answer.strip().lower() in ("y", "yes")
    if not agreed:
        _say("homecheck: the report will not be sent (it is still saved here)", sys.stderr)
    return agreed


def _submit(employer: _Employer, report: Report, outputs: Sequence[Output]) -> int:
    """Send the report; save the receipt inside the JSON report file. One line either way;
    the local report is already written. Returns 2 when nothing was accepted, else 0."""
    from homecheck.hub.receipts import RECEIPT_KEY, canonical_json

    host = employer.invite.link.host
    if not employer.test_sessions:
        _say(
            f"homecheck: not sent to {host}: the network test did not reach its server", sys.stderr
        )
        return EXIT_INCOMPLETE
    data = json_report.to_dict(report)
    try:
        receipt = invite_client.submit(
            employer.invite, employer.test_sessions[-1], canonical_json(data)
        )
    except invite_client.InviteError as exc:
        _say(f"homecheck: not sent to {host}: {exc}", sys.stderr)
        return EXIT_INCOMPLETE
    data[RECEIPT_KEY] = receipt
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    files = [o for o in outputs if o.fmt is OutputFormat.JSON and o.path != output_files.STDOUT]
    for output in files:
        try:
            output_files.write(output.path, text)
        except OSError as exc:
            _say(f"homecheck: error: {output.path}: receipt not saved ({exc.strerror})", sys.stderr)
            return EXIT_INCOMPLETE
    payload = receipt.get("payload")
    key = payload.get("key_id") if isinstance(payload, dict) else None
    where = ", ".join(o.path for o in files) or "no file (use --json FILE)"
    _say(f"Sent to {host}; receipt {key} saved in {where}", sys.stderr)
    return EXIT_READY


@contextmanager
def _sigint_deferred() -> Iterator[threading.Event]:
    """Ctrl-C inside the block is noted in the event instead of raising KeyboardInterrupt."""
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.set())
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def default_log() -> Path:
    """homecheck.log in the user's cache folder (platformdirs knows it on Linux, macOS, Windows)."""
    return Path(platformdirs.user_cache_dir("homecheck", appauthor=False)) / "homecheck.log"


class _LogFile(logging.FileHandler):
    """A run's log file: WARNING and up, with tracebacks. Counts the errors it received."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.path = path
        self.error_count = 0
        self.setLevel(logging.WARNING)
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)  # called with the handler's lock held: the count is thread-safe
        if record.levelno >= logging.ERROR:
            self.error_count += 1


@contextmanager
def _log_to(path: str | None) -> Iterator[_LogFile | None]:
    """Log the "homecheck" logger to `path` (a usage error if it cannot be opened) or to the
    default log, which is skipped silently when it cannot be written (a read-only home)."""
    handler: logging.Handler
    try:
        if path is None:
            default = default_log()
            default.parent.mkdir(parents=True, exist_ok=True)
            handler = _LogFile(default)
        else:
            if path == "-":
                raise UsageError("--log-file -: give a file name (the log never goes to stdout)")
            output_files.check_writable("--log-file", path)
            handler = _LogFile(Path(path))
    except OSError as exc:
        if path is not None:
            raise UsageError(f"--log-file {path}: cannot write ({exc.strerror})") from None
        # No log file: a NullHandler keeps logging's last resort from printing tracebacks on the
        # terminal; the report still says in one sentence what failed.
        handler = logging.NullHandler()
    logger = logging.getLogger("homecheck")
    logger.addHandler(handler)
    try:
        yield handler if isinstance(handler, _LogFile) else None
    finally:
        logger.removeHandler(handler)
        handler.close()


def _report(args: argparse.Namespace) -> int:
    inputs = [] if args.file == "-" else [("report", args.file)]
    outputs = _outputs(args, inputs)
    where = "stdin" if args.file == "-" else args.file
    report = _load_report(args.file, where)
    return _deliver(report, outputs, table=not outputs, brief=args.brief)


def _load_report(path: str, where: str) -> Report:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"report {where}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"report {where}: is a folder; give the JSON file") from None
    except UnicodeDecodeError:
        raise UsageError(f"report {where}: not a homecheck JSON report (not UTF-8 text)") from None
    except OSError as exc:
        raise UsageError(f"report {where}: cannot read ({exc.strerror})") from None
    try:
        return json_report.loads(text)
    except ValueError as exc:
        raise UsageError(f"report {where}: {exc}") from None


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


def _devices() -> int:
    from probes.audio import devices as audio_devices

    inputs = audio_devices.list_inputs(audio_devices.load_sounddevice())  # ProbeError: one line
    if not inputs:
        print("No microphone (input device) found. Plug in a headset with a microphone.")
        return EXIT_NOT_READY
    print("Microphones (* = the system default, tested unless you pass --mic):")
    for d in inputs:
        mark = "*" if d.is_default else " "
        rate = d.server_source.rate if d.server_source and d.server_source.rate else d.default_rate
        print(
            f"{mark} {d.index:>3}  {vocabulary.clean(audio_devices.display_name(d.name))}  "
            f"({vocabulary.clean(d.host_api)}, {d.channels} channels, {rate:.0f} Hz): "
            f"{d.kind}, {d.hint}"
        )
    print("\nTest another one with `homecheck run --mic INDEX` or `--mic NAME`.")
    return EXIT_READY
