"""``citysoc serve`` and ``citysoc user``: run the SOC API, manage console users."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import socket
from collections.abc import Sequence

import uvicorn

from citysoc.cli.output import fail, say
from citysoc.core.errors import ConfigError, NotFoundError
from citysoc.core.settings import Settings
from soc_api.app import StartupTask, create_app
from soc_api.auth.models import Role
from soc_api.auth.service import disable_user, upsert_user
from soc_api.db import init_state, make_engine, transaction
from soc_api.workers import Supervisor


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="run the SOC API, the console and the detections")
    parser.add_argument("--host", help="address to listen on (default from CITYSOC_API_HOST)")
    parser.add_argument("--port", type=port_number, help="port (default from CITYSOC_API_PORT)")
    parser.add_argument(
        "--workers",
        type=worker_count,
        help="API worker processes (default from CITYSOC_API_WORKERS, 1); above 1 the "
        "detection schedule runs in a process of its own beside them",
    )
    parser.set_defaults(func=run)

    user = sub.add_parser(
        "user", help="create a console user, reset its password, role or agency, or disable it"
    )
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in Role])
    user.add_argument(
        "--agency",
        help="the user's agency (required for agency analysts; an auditor given one audits "
        "that agency only)",
    )
    user.add_argument(
        "--disable", action="store_true", help="disable the user and end its console sessions"
    )
    user.set_defaults(func=add_user)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, refused in one line when it is not one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (1 to 65535)")
    return port


def worker_count(text: str) -> int:
    """An argparse type: a number of API worker processes (1 to 64)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{count} workers: give 1 to 64")
    return count


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): another SOC may be running; "
                "stop it or choose another port with --port"
            ) from exc


def serve(
    settings: Settings,
    host: str,
    port: int,
    startup: Sequence[StartupTask] = (),
    workers: int | None = None,
) -> int:
    workers = workers or settings.api_workers
    if workers > 1:
        settings = settings.model_copy(update={"api_workers": workers})
        code = Supervisor(settings, host=host, port=port, workers=workers, startup=startup).run()
        say("citysoc stopped." if code == 0 else "citysoc stopped: its API workers kept ending.")
        return code
    settings = settings.model_copy(update={"api_workers": 1})
    check_port_free(host, port)
    app = create_app(settings, startup=startup)
    # The app decides which X-Forwarded-For to believe (CITYSOC_TRUSTED_PROXIES); uvicorn's
    # own handling would believe any sent from loopback.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False
    )
    # uvicorn re-raises Ctrl-C once it has shut down cleanly: that is a normal stop
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    say("citysoc stopped.")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    return serve(
        settings, args.host or settings.api_host, args.port or settings.api_port,
        workers=args.workers,
    )  # fmt: skip


def cli_actor() -> str:
    """How the audit log names the person at this terminal."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def add_user(args: argparse.Namespace, settings: Settings) -> int:
    if args.disable:
        sessions = init_state(make_engine(settings.resolved_state_url))
        try:
            with transaction(sessions) as session:
                disable_user(session, username=args.username, actor=cli_actor())
        except NotFoundError as exc:
            fail(str(exc))
            return 1
        say(f"user {args.username} disabled; its console sessions are ended")
        return 0
    if args.role is None:
        fail("give --role (or --disable)")
        return 2
    role = Role(args.role)
    if role is Role.AGENCY_ANALYST and not args.agency:
        fail("an agency analyst needs --agency")
        return 2
    password = getpass.getpass(f"Password for {args.username}: ")
    if len(password) < 12:
        fail("use a password of at least 12 characters")
        return 2
    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        upsert_user(session, username=args.username, password=password, role=role,
                    agency=args.agency, actor=cli_actor())  # fmt: skip
    say(f"user {args.username} ready ({role.value})")
    return 0
