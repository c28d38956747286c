"""`homecheck serve`: its options and what it prints (called from homecheck/cli.py).

The measurement plane needs the standard library only. The web plane's dependencies come with the
`serve` extra and are imported only when the server starts: the options and `--help` work in the
candidate's install too."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Callable

from homecheck.errors import UsageError
from homecheck.server.sessions import Limits
from homecheck.server.web.options import DEFAULT_APP_FACTORY, WebOptions, check_options

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}; 0.0.0.0 for every network)",
    )
    parser.add_argument(
        "--port",
        type=_int_in(0, 65535),
        default=DEFAULT_PORT,
        help=f"TCP port for the speed test and UDP port for the echo (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--tls-port",
        type=_int_in(0, 65535),
        metavar="PORT",
        help="also serve the speed test with TLS on this TCP port (e.g. 443, for candidates "
        "behind strict firewalls; needs --tls-cert and --tls-key; the UDP echo stays on --port)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="a TLS certificate (PEM, with its chain): the web plane serves https with it, and "
        "--tls-port the speed test",
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--max-tests",
        type=_int_in(1, 1000),
        default=defaults.max_sessions,
        metavar="N",
        help="tests running at the same time (default: %(default)s)",
    )
    parser.add_argument(
        "--max-tests-per-client",
        type=_int_in(1, 1000),
        default=defaults.max_tests_per_client,
        metavar="N",
        help="tests running at the same time from one address; raise it when many candidates "
        "share one office address (default: %(default)s)",
    )
    parser.add_argument(
        "--max-transfer-seconds",
        type=_int_in(1, 600),
        default=int(defaults.max_transfer_s),
        metavar="SECONDS",
        help="longest single download or upload in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--max-transfer-mb",
        type=_int_in(1, 100_000),
        default=defaults.max_request_bytes // 1_000_000,
        metavar="MB",
        help="largest single download or upload in MB (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_int_in(1, 600),
        default=int(defaults.idle_timeout_s),
        metavar="SECONDS",
        help="seconds before a test without traffic, or a silent connection, is closed "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--head-timeout",
        type=_int_in(1, 600),
        default=int(defaults.head_timeout_s),
        metavar="SECONDS",
        help="seconds a client has to send a whole request head once it began, and to finish a "
        "TLS handshake (default: %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=_int_in(16, 100_000),
        default=defaults.max_connections,
        metavar="N",
        help="open connections at most; at the limit the oldest idle one is closed "
        "(default: %(default)s)",
    )


INSTALL_HINT = "pip install 'homecheck[serve]'"
# What the server imports from the `serve` extra: a missing one means the extra is not installed.
EXTRA_MODULES = {"starlette", "h11", "anyio", "hypercorn", "h2", "wsproto", "priority"}


def run(args: argparse.Namespace) -> int:
    tls_files = (args.tls_cert, args.tls_key)
    if args.tls_port is not None and None in tls_files:
        raise UsageError("--tls-port needs --tls-cert and --tls-key")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together: give both or neither")
    try:
        # The measurement plane needs the standard library only (and never imports these); the
        # web plane, in a process of its own beside it, needs the extra. Found, not imported.
        for module in ("starlette", "hypercorn"):
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        from homecheck.server.serve import Tls, Web, serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in EXTRA_MODULES:
            raise
        raise UsageError(
            f"homecheck serve needs the server extra ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    limits = Limits(
        max_sessions=args.max_tests,
        max_tests_per_client=args.max_tests_per_client,
        max_transfer_s=float(args.max_transfer_seconds),
        max_request_bytes=args.max_transfer_mb * 1_000_000,
        idle_timeout_s=float(args.idle_timeout),
        head_timeout_s=float(args.head_timeout),
        max_connections=args.max_connections,
    )
    tls = None if args.tls_port is None else Tls(args.tls_port, args.tls_cert, args.tls_key)
    web = Web(args.web_port, web_options(args, args.public_url))
    hub = _start_hub(args.db) if args.db is not None else None

    def ready(url: str, udp_port: int, tls_url: str | None, web_url: str) -> None:
        also = f" and {tls_url}" if tls_url else ""
        print(
            f"homecheck serve: listening on {url}{also} (UDP echo on port {udp_port}); "
            f"test with: homecheck run --server {tls_url or url}; web plane on {web_url}   "
            "(Ctrl-C stops)",
            flush=True,
        )

    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.host, args.port, limits, ready, tls, web, hub.link if hub else None)
    finally:
        if hub is not None:
            hub.close()
    print("homecheck serve: stopped", file=sys.stderr, flush=True)
    return 0


class _RunningHub:
    def __init__(self, db: str) -> None:
        from homecheck.hub import service
        from homecheck.server.measure.hub_link import HubLink

        self.hub = service.start(db or None)  # migrated; a bad URL is one line (UsageError)
        self.link = HubLink(self.hub)

    def close(self) -> None:
        self.hub.close()


def _start_hub(db: str) -> _RunningHub:
    try:
        return _RunningHub(db)
    except ImportError as exc:
        raise UsageError(
            f"homecheck serve --db needs the server extra ({exc.name} is missing): {INSTALL_HINT}"
        ) from None


# --- The web plane (homecheck/server/web/): its own port, TLS and reverse-proxy options. ---------

DEFAULT_WEB_PORT = 8766
HUB_APP = "homecheck.hub.web:create_app"


def add_web_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web plane (the front page; later invites and the dashboard)")
    group.add_argument(
        "--web-port",
        type=_int_in(0, 65535),
        default=DEFAULT_WEB_PORT,
        metavar="PORT",
        help="TCP port of the web plane (default: %(default)s)",
    )
    group.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        help="behind a reverse proxy: its addresses (comma-separated; networks such as "
        "10.0.0.0/8 too), whose X-Forwarded-For and X-Forwarded-Proto are believed",
    )
    hub = parser.add_argument_group("employer hub (invites, submissions, receipts)")
    hub.add_argument(
        "--db",
        nargs="?",
        const="",
        metavar="URL",
        help="take invited candidates' reports into this database: sqlite:///PATH or "
        "postgresql://USER@HOST/NAME (without URL: a SQLite file in this user's data folder); "
        "migrated at start",
    )
    hub.add_argument(
        "--public-url",
        metavar="URL",
        help="the speed-test address candidates are sent to, when they reach this server by "
        "another address (NAT, a proxy) (default: the address it listens on)",
    )


def web_options(args: argparse.Namespace, speed_test_url: str | None = None) -> WebOptions:
    """The web plane's options from the command line, checked before anything listens: a bad
    certificate or key is one line and exit 2 (WebPlaneError is a HomecheckError)."""
    options = WebOptions(
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        forwarded_allow_ips=args.forwarded_allow_ips,
        idle_timeout_s=float(getattr(args, "idle_timeout", WebOptions.idle_timeout_s)),
        speed_test_url=speed_test_url,
        hub=getattr(args, "db", None) is not None,
        hub_db=getattr(args, "db", None) or None,
        app_factory=HUB_APP if getattr(args, "db", None) is not None else DEFAULT_APP_FACTORY,
    )
    check_options(options)
    return options


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse
