"""``mi``: the argument parser and the commands. Each command is one function taking the
parsed arguments and the API client, printing a table (or ``--json``) and returning 0; a
failure raises :class:`~mi_cli.errors.CliError` and :func:`main` turns it into a sentence
on stderr and its exit code, never a traceback."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mi_cli import auth, config
from mi_cli.client import ApiClient
from mi_cli.errors import CliError, ExitCode
from mi_cli.render import Column, dig, dump_json, key_values, parse_duration, table

EPILOG = """exit codes: 0 ok, 1 the operation failed or was refused, 2 usage,
3 not logged in / token refused, 4 forbidden, 5 not found, 6 server or network error

environment: MI_SERVER (the MI Admin URL), MI_ISSUER (the authorization server),
MI_TOKEN (an access token to use instead of the cached login, e.g. in CI),
XDG_CONFIG_HOME (the login is kept in $XDG_CONFIG_HOME/mi/credentials.json)"""

TERMINAL_OPERATION_STATES = {"succeeded", "failed", "cancelled"}
DEFAULT_LIFECYCLE_REASON = "Requested with the mi command line"

Handler = Callable[[argparse.Namespace], int]


def _out(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _poll_seconds() -> float:
    return float(os.environ.get("MI_POLL_SECONDS", "2"))


# -- login ------------------------------------------------------------------------------


def _token_subject(token: str) -> str:
    """The token's ``sub``, read without verifying (only to greet; the server verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("sub") or "")
    except (IndexError, ValueError):
        return ""


def cmd_login(args: argparse.Namespace) -> int:
    cached = config.load()
    server = (
        args.server
        or os.environ.get("MI_SERVER")
        or (cached.server if cached else "")
        or config.DEFAULT_SERVER
    ).rstrip("/")
    issuer = (
        args.issuer
        or os.environ.get("MI_ISSUER")
        or (cached.issuer if cached else "")
        or config.DEFAULT_ISSUER
    ).rstrip("/")
    browser = args.browser
    if browser is None and args.no_browser:

        def browser(url: str) -> None:
            _err(f"Open this URL in a browser on this machine to sign in:\n\n  {url}\n")

    elif browser is None:
        _err("Opening the browser to sign in (use --no-browser to print the URL instead).")
    credentials = auth.login(server=server, issuer=issuer, browser=browser)
    credentials.subject = _token_subject(credentials.access_token)
    path = config.save(credentials)
    _out(args, f"Logged in to {server} as {credentials.subject or 'you'} (saved in {path}).")
    return ExitCode.OK


def cmd_logout(args: argparse.Namespace) -> int:
    if config.forget():
        _out(args, "Logged out: the cached login is removed.")
    else:
        _out(args, "Not logged in.")
    return ExitCode.OK


# -- instances --------------------------------------------------------------------------


def _position(row: dict[str, Any]) -> str:
    position = row.get("version_position") or {}
    state = position.get("state") or ""
    if state == "behind" and position.get("behind"):
        return f"behind {position['behind']} (latest {position.get('latest')})"
    return str(state)


INSTANCE_COLUMNS: list[Column] = [
    ("slug", lambda r: r.get("slug")),
    ("customer", lambda r: r.get("customer")),
    ("state", lambda r: r.get("state")),
    ("version", lambda r: r.get("version")),
    ("position", _position),
    ("version sla", lambda r: dig(r, "version_sla.text")),
    ("health", lambda r: dig(r, "health.state")),
]


def cmd_instances(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    rows = list(
        api.pages(
            "instances/",
            behind="true" if args.behind else None,
            health=args.health,
            customer=args.customer,
            state=args.state or None,
            mine="true" if args.mine else None,
            q=args.search,
        )
    )
    if args.json:
        dump_json(rows, sys.stdout)
    elif rows:
        _out(args, table(rows, INSTANCE_COLUMNS))
    else:
        _out(args, "No instances match.")
    return ExitCode.OK


OPERATION_COLUMNS: list[Column] = [
    ("id", lambda r: r.get("id")),
    ("kind", lambda r: r.get("kind")),
    ("state", lambda r: r.get("state")),
    ("actor", lambda r: r.get("actor")),
    ("created", lambda r: r.get("created_at")),
    ("error", lambda r: r.get("error")),
]


def cmd_show(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    row = api.get(f"instances/{args.slug}/")
    if args.json:
        dump_json(row, sys.stdout)
        return ExitCode.OK
    uptime = dig(row, "health.uptime") or {}
    pairs = [
        ("Instance", row.get("slug")),
        ("Customer", row.get("customer")),
        ("URL", row.get("url")),
        ("Kind", f"{row.get('kind')}, {row.get('architecture')}, {row.get('size')}"),
        ("State", row.get("state")),
        ("Version", row.get("version")),
        ("Desired", row.get("desired_version")),
        ("Position", _position(row)),
        ("Version SLA", dig(row, "version_sla.text")),
        ("Health", dig(row, "health.state")),
        ("Uptime", ", ".join(f"{k} {v}" for k, v in uptime.items()) if uptime else None),
        ("Drift", row.get("drift")),
        ("Last sync", row.get("last_synced_at")),
        ("GCP", f"{row.get('gcp_project') or '-'} / {row.get('gcp_zone') or '-'}"),
    ]
    _out(args, key_values(pairs))
    operations = row.get("recent_operations") or []
    if operations:
        _out(args, "\nRecent operations\n" + table(operations, OPERATION_COLUMNS))
    return ExitCode.OK


# -- operations -------------------------------------------------------------------------


def _follow(api: ApiClient, operation: dict[str, Any], location: str, *, stream: Any) -> dict:
    """Poll the operation until it finishes, printing each step as it starts and ends."""
    seen: set[tuple[int, str]] = set()
    while True:
        for step in sorted(operation.get("steps") or [], key=lambda s: s.get("position", 0)):
            key = (int(step.get("position", 0)), str(step.get("state")))
            if key in seen:
                continue
            seen.add(key)
            detail = f"  ({step['detail']})" if step.get("detail") else ""
            print(f"  {step.get('state', ''):<8} {step.get('name', '')}{detail}", file=stream)
            stream.flush()
        if operation.get("finished_at") or operation.get("state") in TERMINAL_OPERATION_STATES:
            return operation
        time.sleep(_poll_seconds())
        operation = api.get(location)


def _start(args: argparse.Namespace, verb: str, body: dict[str, Any] | None) -> int:
    api = ApiClient(args.server)
    response = api.post(f"instances/{args.slug}/{verb}/", body)
    operation = response.json()
    location = response.headers.get("Location") or f"operations/{operation['id']}/"
    stream = sys.stderr if args.json else sys.stdout
    print(
        f"Operation #{operation['id']} ({operation.get('kind')}) on {args.slug}: "
        f"{operation.get('state')}",
        file=stream,
    )
    if args.wait:
        operation = _follow(api, operation, location, stream=stream)
    if args.json:
        dump_json(operation, sys.stdout)
    if not args.wait:
        print(f"Follow it: mi operation {operation['id']} --wait", file=stream)
        return ExitCode.OK
    if operation.get("state") != "succeeded":
        raise CliError(
            f"Operation #{operation['id']} {operation.get('state')}: "
            f"{operation.get('error') or 'no reason given'}",
            ExitCode.FAILED,
        )
    print(f"Operation #{operation['id']} succeeded.", file=stream)
    return ExitCode.OK


def cmd_sync(args: argparse.Namespace) -> int:
    return _start(args, "sync", None)


def cmd_upgrade(args: argparse.Namespace) -> int:
    return _start(args, "upgrade", {"target": args.to})


def cmd_suspend(args: argparse.Namespace) -> int:
    return _start(args, "suspend", {"reason": args.reason})


def cmd_resume(args: argparse.Namespace) -> int:
    return _start(args, "resume", {"reason": args.reason})


def cmd_operation(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    location = f"operations/{args.id}/"
    operation = api.get(location)
    stream = sys.stderr if args.json else sys.stdout
    if args.wait:
        operation = _follow(api, operation, location, stream=stream)
    if args.json:
        dump_json(operation, sys.stdout)
    else:
        _out(args, table([operation], OPERATION_COLUMNS))
        if not args.wait and operation.get("steps"):
            _out(args, "\n" + table(operation["steps"], STEP_COLUMNS))
    if args.wait and operation.get("state") != "succeeded":
        return ExitCode.FAILED
    return ExitCode.OK


STEP_COLUMNS: list[Column] = [
    ("#", lambda r: r.get("position")),
    ("step", lambda r: r.get("name")),
    ("state", lambda r: r.get("state")),
    ("detail", lambda r: r.get("detail")),
]


# -- access -----------------------------------------------------------------------------

GRANT_COLUMNS: list[Column] = [
    ("id", lambda r: r.get("id")),
    ("instance", lambda r: r.get("instance")),
    ("level", lambda r: r.get("level")),
    ("state", lambda r: r.get("state")),
    ("requester", lambda r: r.get("requester")),
    ("minutes", lambda r: r.get("duration_minutes")),
    ("expires", lambda r: r.get("expires_at")),
    ("why", lambda r: r.get("justification")),
]


def _grant_out(args: argparse.Namespace, grant: dict[str, Any], message: str) -> int:
    if args.json:
        dump_json(grant, sys.stdout)
    else:
        _out(args, f"{message}\n{table([grant], GRANT_COLUMNS)}")
    return ExitCode.OK


def cmd_access_request(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    body: dict[str, Any] = {
        "instance": args.slug,
        "level": args.level,
        "minutes": args.minutes,
        "justification": args.why,
    }
    if args.ticket:
        body["ticket_url"] = args.ticket
    grant = api.post("access/grants/", body).json()
    return _grant_out(args, grant, f"Access grant #{grant.get('id')}: {grant.get('state')}.")


def _review(args: argparse.Namespace, decision: str) -> int:
    api = ApiClient(args.server)
    body = {"decision": decision, "comment": args.comment}
    grant = api.post(f"access/grants/{args.id}/review/", body).json()
    return _grant_out(args, grant, f"Access grant #{args.id}: {grant.get('state')}.")


def cmd_access_approve(args: argparse.Namespace) -> int:
    return _review(args, "approve")


def cmd_access_deny(args: argparse.Namespace) -> int:
    return _review(args, "deny")


def cmd_access_end(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    grant = api.post(f"access/grants/{args.id}/end/").json()
    return _grant_out(args, grant, f"Access grant #{args.id}: {grant.get('state')}.")


def cmd_access_show(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    grant = api.get(f"access/grants/{args.id}/")
    return _grant_out(args, grant, f"Access grant #{args.id}")


def cmd_access_list(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    rows = list(api.pages("access/grants/", mine="true" if args.mine else None, state=args.state))
    if args.json:
        dump_json(rows, sys.stdout)
    elif rows:
        _out(args, table(rows, GRANT_COLUMNS))
    else:
        _out(args, "No access grants match.")
    return ExitCode.OK


# -- rollouts ---------------------------------------------------------------------------

WAVE_COLUMNS: list[Column] = [
    ("wave", lambda r: r.get("position")),
    ("name", lambda r: r.get("name")),
    ("pending", lambda r: dig(r, "counts.pending")),
    ("upgrading", lambda r: dig(r, "counts.upgrading")),
    ("done", lambda r: dig(r, "counts.done")),
    ("failed", lambda r: dig(r, "counts.failed")),
    ("skipped", lambda r: dig(r, "counts.skipped")),
    ("earliest start", lambda r: r.get("earliest_start")),
]
TARGET_COLUMNS: list[Column] = [
    ("wave", lambda r: r.get("wave")),
    ("instance", lambda r: r.get("instance")),
    ("state", lambda r: r.get("state")),
    ("operation", lambda r: r.get("operation")),
    ("note", lambda r: r.get("error") or r.get("skip_reason")),
]
ROLLOUT_COLUMNS: list[Column] = [
    ("id", lambda r: r.get("id")),
    ("release", lambda r: r.get("release")),
    ("state", lambda r: r.get("state")),
    ("targets", lambda r: r.get("target_count")),
    ("done", lambda r: r.get("done_count")),
    ("failed", lambda r: r.get("failed_count")),
    ("created", lambda r: r.get("created_at")),
]


def rollout_status_text(rollout: dict[str, Any]) -> str:
    """A rollout's status for people: one line, the waves' counts, then each instance."""
    counts = rollout.get("counts") or {}
    summary = ", ".join(f"{counts[state]} {state}" for state in counts if counts[state])
    head = f"Rollout #{rollout.get('id')} of {rollout.get('release')}: {rollout.get('state')}"
    if rollout.get("paused_reason"):
        head += f" ({rollout['paused_reason']})"
    waves = rollout.get("waves") or []
    targets = [
        {**target, "wave": wave.get("position")}
        for wave in waves
        for target in wave.get("targets") or []
    ]
    parts = [f"{head}\n{summary or 'no instances'}"]
    if waves:
        parts.append(table(waves, WAVE_COLUMNS))
    if targets:
        parts.append(table(targets, TARGET_COLUMNS))
    return "\n\n".join(parts)


def rollout_ref(ref: str) -> tuple[int | None, str]:
    """``mi rollout ... REF``: a number is a rollout's id, anything else a release version."""
    ref = ref.strip()
    return (int(ref), "") if ref.isdigit() else (None, ref)


# Under way: at most one per release (the server's constraint).
ACTIVE_ROLLOUT_STATES = {"running", "paused", "aborting", "superseding"}


def _rollout_id(api: ApiClient, ref: str | None) -> int:
    """The rollout REF names: its id, or that version's rollout under way, else its newest
    (no REF: the same over all versions)."""
    pk, version = rollout_ref(ref) if ref else (None, "")
    if pk is not None:
        return pk
    rows = api.get("rollouts/", release=version or None, page_size=50).get("results") or []
    if not rows:
        where = f" of {version}" if version else ""
        raise CliError(f"No rollout{where} found.", ExitCode.NOT_FOUND)
    active = [row for row in rows if row.get("state") in ACTIVE_ROLLOUT_STATES]
    return int((active or rows)[0]["id"])


def _rollout_out(args: argparse.Namespace, rollout: dict[str, Any], message: str = "") -> int:
    if args.json:
        dump_json(rollout, sys.stdout)
    else:
        _out(args, (f"{message}\n" if message else "") + rollout_status_text(rollout))
    return ExitCode.OK


def cmd_rollout_start(args: argparse.Namespace) -> int:
    """Start the planned rollout of VERSION (one adjusted on its page, or left by a start
    that was refused), else plan one and start it; the waves then run on their schedule."""
    api = ApiClient(args.server)
    stream = sys.stderr if args.json else sys.stdout
    planned = api.get("rollouts/", release=args.version, state="planned", page_size=1)
    rows = planned.get("results") or []
    if rows:
        pk = int(rows[0]["id"])
        print(f"Rollout #{pk} of {args.version} was planned already.", file=stream)
    else:
        body = {
            "version": args.version,
            "failure_budget": args.failure_budget,
            "hold_seconds": args.hold,
            "only_in_maintenance_windows": args.in_windows,
        }
        pk = int(api.post("rollouts/", body).json()["id"])
        print(f"Rollout #{pk} of {args.version} planned.", file=stream)
    rollout = api.post(f"rollouts/{pk}/start/").json()
    return _rollout_out(args, rollout, f"Rollout #{rollout['id']} started.")


def cmd_rollout_status(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    if args.all:
        rows = list(api.pages("rollouts/", release=args.ref, state=args.state))
        if args.json:
            dump_json(rows, sys.stdout)
        elif rows:
            _out(args, table(rows, ROLLOUT_COLUMNS))
        else:
            _out(args, "No rollouts match.")
        return ExitCode.OK
    rollout = api.get(f"rollouts/{_rollout_id(api, args.ref)}/")
    return _rollout_out(args, rollout)


def _rollout_action(args: argparse.Namespace, verb: str, done: str) -> int:
    api = ApiClient(args.server)
    pk = _rollout_id(api, args.ref)
    reason = getattr(args, "reason", None)
    rollout = api.post(f"rollouts/{pk}/{verb}/", {"reason": reason} if reason else {}).json()
    return _rollout_out(args, rollout, f"Rollout #{pk} {done}.")


def cmd_rollout_pause(args: argparse.Namespace) -> int:
    return _rollout_action(args, "pause", "paused")


def cmd_rollout_resume(args: argparse.Namespace) -> int:
    return _rollout_action(args, "resume", "resumed")


def cmd_rollout_abort(args: argparse.Namespace) -> int:
    return _rollout_action(args, "abort", "aborting")


# -- audit ------------------------------------------------------------------------------


def cmd_audit_export(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    response = api.request("GET", "audit/events/export/", params={"since": args.since})
    if args.output:
        Path(args.output).write_bytes(response.content)
        _err(f"Wrote {len(response.content)} bytes to {args.output}.")
    else:
        sys.stdout.write(response.text)
        sys.stdout.flush()
    return ExitCode.OK


# -- the parser -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def _minutes(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# -- requests ---------------------------------------------------------------------------

REQUEST_COLUMNS: list[Column] = [
    ("id", lambda r: r.get("id")),
    ("kind", lambda r: r.get("kind")),
    ("state", lambda r: r.get("state")),
    ("instance", lambda r: r.get("instance") or r.get("customer")),
    ("requester", lambda r: r.get("requester")),
    ("submitted", lambda r: r.get("submitted_at")),
    ("summary", lambda r: r.get("summary")),
]
EVENT_COLUMNS: list[Column] = [
    ("at", lambda r: r.get("at")),
    ("who", lambda r: r.get("actor") or "system"),
    ("action", lambda r: r.get("action")),
    ("state", lambda r: r.get("to_state")),
    ("comment", lambda r: r.get("comment")),
]
CLOCK_COLUMNS: list[Column] = [
    ("clock", lambda r: r.get("label")),
    ("due", lambda r: r.get("due")),
    ("state", lambda r: r.get("state")),
    ("note", lambda r: r.get("note")),
]


def cmd_requests(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    rows = list(api.pages("requests/", mine="true" if args.mine else None, state=args.state))
    if args.json:
        dump_json(rows, sys.stdout)
    elif rows:
        _out(args, table(rows, REQUEST_COLUMNS))
    else:
        _out(args, "No requests match.")
    return ExitCode.OK


def cmd_requests_show(args: argparse.Namespace) -> int:
    api = ApiClient(args.server)
    row = api.get(f"requests/{args.id}/")
    if args.json:
        dump_json(row, sys.stdout)
        return ExitCode.OK
    pairs = [
        ("Request", f"#{row.get('id')} {row.get('summary')}"),
        ("Kind", row.get("kind")),
        ("State", row.get("state")),
        ("Instance", row.get("instance")),
        ("Customer", row.get("customer")),
        ("Requester", row.get("requester")),
        ("Handler", row.get("handler")),
        ("Reason", row.get("reason")),
        ("Submitted", row.get("submitted_at")),
        ("Actions", ", ".join(row.get("actions") or []) or None),
    ]
    _out(args, key_values(pairs))
    _out(args, "\nSLA clocks\n" + table(row.get("clocks") or [], CLOCK_COLUMNS))
    _out(args, "\nTimeline\n" + table(row.get("events") or [], EVENT_COLUMNS))
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--server", help="MI Admin's URL (default: MI_SERVER, then the one logged in to)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    parser = _Parser(
        prog="mi",
        description="MI Admin from the terminal: the fleet, operations, rollouts, access "
        "and audit.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common], **kwargs)
        sub.set_defaults(handler=handler)
        return sub

    login = commands.add_parser(
        "login",
        help="sign in (authorization code + PKCE in the browser)",
        description="Sign in in the browser; the tokens are kept in "
        "$XDG_CONFIG_HOME/mi/credentials.json (mode 0600) and refreshed when they expire.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    login.add_argument("--server", help=f"MI Admin's URL (default {config.DEFAULT_SERVER})")
    login.add_argument(
        "--issuer", help=f"the authorization server (default {config.DEFAULT_ISSUER})"
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the URL to open instead of opening it"
    )
    login.set_defaults(handler=cmd_login)
    logout = commands.add_parser("logout", help="forget the cached login", epilog=EPILOG)
    logout.set_defaults(handler=cmd_logout)

    sub = add("instances", cmd_instances, "list instances (the fleet page's filters)")
    sub.add_argument("--behind", action="store_true", help="only those behind the latest")
    sub.add_argument("--health", help="up, degraded, down, unknown, ...")
    sub.add_argument("--customer", help="customer name or slug")
    sub.add_argument(
        "--state", action="append", help="lifecycle state (repeat for several: active, ...)"
    )
    sub.add_argument("--mine", action="store_true", help="only my customers' instances")
    sub.add_argument("-q", "--search", help="text in slug, customer, URL or GCP project")

    sub = add("show", cmd_show, "one instance: version, SLA, health, recent operations")
    sub.add_argument("slug")

    def operation_command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sub = add(name, handler, help)
        sub.add_argument("slug")
        sub.add_argument(
            "--wait", action="store_true", help="follow the operation, printing its steps"
        )
        return sub

    operation_command("sync", cmd_sync, "sync an instance's facts from GCP now")
    sub = operation_command("upgrade", cmd_upgrade, "upgrade an instance to a release")
    sub.add_argument("--to", required=True, metavar="VERSION", help="a registered release")
    for name, handler, help in (
        ("suspend", cmd_suspend, "suspend an active instance (snapshot, stop)"),
        ("resume", cmd_resume, "resume a suspended instance"),
    ):
        sub = operation_command(name, handler, help)
        sub.add_argument("--reason", default=DEFAULT_LIFECYCLE_REASON, help="for the audit")

    sub = add("operation", cmd_operation, "one operation and its steps")
    sub.add_argument("id", type=int)
    sub.add_argument("--wait", action="store_true", help="follow it until it finishes")

    access = commands.add_parser(
        "access", help="time-limited access grants", description="Time-limited access grants."
    )
    access_commands = access.add_subparsers(dest="access_command", metavar="ACTION", required=True)

    def add_access(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sub = access_commands.add_parser(
            name,
            help=help,
            description=help,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    sub = add_access("request", cmd_access_request, "ask for access to an instance")
    sub.add_argument("slug")
    sub.add_argument("--level", required=True, help="the access level (e.g. ssh)")
    sub.add_argument(
        "--for",
        dest="minutes",
        type=_minutes,
        required=True,
        metavar="DURATION",
        help="how long: 30m, 1h, 1h30m, 2d",
    )
    sub.add_argument("--why", required=True, help="the justification")
    sub.add_argument("--ticket", help="the ticket's URL")
    for name, handler, help in (
        ("approve", cmd_access_approve, "approve a grant"),
        ("deny", cmd_access_deny, "deny a grant"),
    ):
        sub = add_access(name, handler, help)
        sub.add_argument("id", type=int)
        sub.add_argument("--comment", default="", help="for the requester and the audit")
    sub = add_access("end", cmd_access_end, "end a grant now")
    sub.add_argument("id", type=int)
    sub = add_access("show", cmd_access_show, "one grant")
    sub.add_argument("id", type=int)
    sub = add_access("list", cmd_access_list, "list grants")
    sub.add_argument("--mine", action="store_true", help="only mine")
    sub.add_argument("--state", help="pending, active, ended, ...")

    rollout = commands.add_parser(
        "rollout",
        help="rollouts of a release across the fleet",
        description="Rollouts of a release across the fleet, wave after wave. REF is a "
        "rollout's id or a release version (its newest rollout).",
    )
    rollout_commands = rollout.add_subparsers(
        dest="rollout_command", metavar="ACTION", required=True
    )

    def add_rollout(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sub = rollout_commands.add_parser(
            name,
            help=help,
            description=help,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    sub = add_rollout("start", cmd_rollout_start, "plan a rollout of a release and start it")
    sub.add_argument("version", metavar="VERSION", help="a registered release (6.10.0)")
    sub.add_argument(
        "--failure-budget",
        type=int,
        default=0,
        metavar="N",
        help="failed instances a wave may have and the next still start (default 0)",
    )
    sub.add_argument(
        "--hold", type=int, default=0, metavar="SECONDS", help="wait after each wave (default 0)"
    )
    sub.add_argument(
        "--in-windows",
        action="store_true",
        help="upgrade each instance only inside its maintenance window",
    )
    sub = add_rollout(
        "status", cmd_rollout_status, "a rollout's waves and instances (default: the newest)"
    )
    sub.add_argument("ref", nargs="?", metavar="REF", help="a rollout's id or a version")
    sub.add_argument("--all", action="store_true", help="list rollouts (REF: of that version)")
    sub.add_argument("--state", help="with --all: planned, running, paused, ...")
    for name, handler, help in (
        ("pause", cmd_rollout_pause, "pause a running rollout (upgrades under way finish)"),
        ("resume", cmd_rollout_resume, "resume a paused rollout"),
        ("abort", cmd_rollout_abort, "abort a rollout (upgrades under way finish)"),
    ):
        sub = add_rollout(name, handler, help)
        sub.add_argument("ref", metavar="REF", help="a rollout's id or a version")
        if name != "resume":
            sub.add_argument("--reason", required=True, help="why (shown and audited)")

    audit = commands.add_parser("audit", help="the audit trail", description="The audit trail.")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    sub = audit_commands.add_parser(
        "export",
        help="the audit trail as CSV",
        parents=[common],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--since", required=True, help="a date (2026-12-01) or time")
    sub.add_argument("-o", "--output", help="write to this file (default: stdout)")
    sub.set_defaults(handler=cmd_audit_export)

    # `mi requests` lists; `mi requests show ID` reads one (its timeline and SLA clocks).
    sub = add("requests", cmd_requests, "list customer requests (newest first)")
    sub.add_argument("--mine", action="store_true", help="only the ones I filed")
    sub.add_argument("--state", help="submitted, acknowledged, approved, waiting, done, ...")
    request_commands = sub.add_subparsers(dest="requests_command", metavar="ACTION")
    show = request_commands.add_parser(
        "show",
        help="one request: its timeline and SLA clocks",
        description="One request: its timeline and SLA clocks.",
        parents=[common],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("id", type=int)
    show.set_defaults(handler=cmd_requests_show)
    return parser


def main(argv: Sequence[str] | None = None, *, browser: auth.Browser | None = None) -> int:
    """Run ``mi`` with ``argv`` (the process's arguments by default) and return its exit
    code. ``browser`` replaces the system browser at ``mi login`` (tests drive the sign-in
    page with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return int(exc.code or 0)
    args.browser = browser
    try:
        return int(args.handler(args))
    except CliError as exc:
        _err(f"mi: {exc.message}")
        return int(exc.code)
    except KeyboardInterrupt:
        _err("mi: interrupted (an operation already started goes on; `mi operation ID`).")
        return 130
    except BrokenPipeError:
        return ExitCode.OK
    finally:
        ApiClient.close_all()


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())
