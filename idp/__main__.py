"""Command line of the local IdP.

``python -m idp serve --port 8001`` migrates its SQLite database under ``--data-dir``
(default ``var/idp``), seeds the personas and the ``mi-admin`` client, and serves.
``python -m idp set-groups devops mi-devops mi-admins`` changes a persona's groups (takes
effect at their next login). ``python -m idp env --port 8001`` prints the relying party's
environment (``KEY=VALUE`` lines).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from idp import DEFAULT_CLIENT_SECRET, DEFAULT_MACHINE_CLIENT_SECRET, issuer_for, rp_env

logger = logging.getLogger("idp")

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "idp"


def _env_list(name: str) -> list[str]:
    return os.environ.get(name, "").replace(",", " ").split()


def _base_url(args: argparse.Namespace) -> str:
    return str(args.public_url or f"http://{args.host}:{args.port}").rstrip("/")


def _setup_django(data_dir: Path, issuer: str = "") -> None:
    # Settings read these at import; the IdP never runs with anyone else's settings module.
    os.environ["IDP_DATA_DIR"] = str(data_dir.resolve())
    os.environ["IDP_ISSUER"] = issuer
    os.environ["DJANGO_SETTINGS_MODULE"] = "idp.settings"
    import django

    django.setup()


def _prepare(args: argparse.Namespace) -> str:
    """Migrate, seed personas, register the client; returns the base URL."""
    base_url = _base_url(args)
    _setup_django(Path(args.data_dir), issuer_for(base_url))
    from django.core.management import call_command

    from idp.personas import register_api_clients, register_client, seed_personas

    call_command("migrate", verbosity=0, interactive=False)
    seed_personas()
    register_client(
        client_secret=args.client_secret,
        redirect_uris=[*_env_list("IDP_REDIRECT_URIS"), *args.redirect_uri],
        post_logout_redirect_uris=[
            *_env_list("IDP_POST_LOGOUT_REDIRECT_URIS"),
            *args.post_logout_redirect_uri,
        ],
    )
    register_api_clients(
        machine_client_secret=os.environ.get("IDP_MACHINE_CLIENT_SECRET")
        or DEFAULT_MACHINE_CLIENT_SECRET
    )
    return base_url


def cmd_serve(args: argparse.Namespace) -> int:
    base_url = _prepare(args)
    from django.core.management import call_command

    logger.info("local IdP at %s, issuer %s", base_url, issuer_for(base_url))
    call_command(
        "runserver",
        f"{args.host}:{args.port}",
        use_reloader=False,
        use_threading=True,
        skip_checks=True,
        # The IdP's admin needs its static files; DEBUG stays off.
        insecure_serving=True,
    )
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    base_url = _prepare(args)
    logger.info("local IdP prepared in %s for %s", args.data_dir, base_url)
    return 0


def cmd_set_groups(args: argparse.Namespace) -> int:
    _setup_django(Path(args.data_dir))
    from django.contrib.auth.models import User

    from idp.personas import set_groups

    try:
        names = set_groups(args.username, args.groups)
    except User.DoesNotExist:
        sys.stderr.write(f"no user {args.username!r} at this IdP\n")
        return 2
    sys.stdout.write(f"{args.username}: {' '.join(names) or '(no groups)'}\n")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    for key, value in rp_env(_base_url(args), client_secret=args.client_secret).items():
        sys.stdout.write(f"{key}={value}\n")
    return 0


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("IDP_PORT", "8001")))
    parser.add_argument(
        "--public-url", default="", help="base URL browsers use (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--client-secret", default=os.environ.get("IDP_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m idp", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("IDP_DATA_DIR", str(DEFAULT_DATA_DIR)))
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func, helptext in (
        ("serve", cmd_serve, "migrate, seed and serve"),
        ("setup", cmd_setup, "migrate and seed only"),
    ):
        sub = commands.add_parser(name, help=helptext)
        _server_args(sub)
        sub.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            help="extra redirect URI of the client (loopback ones match any port already)",
        )
        sub.add_argument("--post-logout-redirect-uri", action="append", default=[])
        sub.set_defaults(func=func)
    groups = commands.add_parser("set-groups", help="replace a persona's groups")
    groups.add_argument("username")
    groups.add_argument("groups", nargs="*")
    groups.set_defaults(func=cmd_set_groups)
    env = commands.add_parser("env", help="print the relying party's environment")
    _server_args(env)
    env.set_defaults(func=cmd_env)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s idp %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
