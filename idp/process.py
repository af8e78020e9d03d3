"""Run the local IdP as a subprocess: on a free port, with its own data directory.

For the tests (and any script that needs a throw-away Okta)::

    with running_idp() as idp:
        env = idp.rp_env()          # OIDC_* variables for MI Admin
        idp.set_groups("devops", ["mi-devops", "mi-admins"])
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from idp import DEFAULT_API_TOKEN, DEFAULT_CLIENT_SECRET, issuer_for, rp_env
from idp.faults import calls, fault_set, faults_reset
from idp.keys import SIGNING_KEY_FILE

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_FILE = "idp.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _child_env(api_token: str = "") -> dict[str, str]:
    env = dict(os.environ)
    if api_token:
        env["IDP_API_TOKEN"] = api_token
    # The caller may be a Django process (the test suite): its settings are not the IdP's.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class IdpProcess:
    """A running IdP subprocess and what a caller needs to use it."""

    base_url: str
    data_dir: Path
    client_secret: str
    api_token: str = field(default=DEFAULT_API_TOKEN, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return issuer_for(self.base_url)

    @property
    def signing_key_path(self) -> Path:
        """The IdP's private RS256 key (PEM), for tests that forge or re-sign tokens."""
        return self.data_dir / SIGNING_KEY_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def rp_env(self) -> dict[str, str]:
        return rp_env(self.base_url, client_secret=self.client_secret, api_token=self.api_token)

    def api_fault(self, endpoint: str, *, status: int, count: int = 1) -> None:
        """The next ``count`` calls of an Okta API endpoint (``groups.users.put``, ...; see
        :mod:`idp.api`) answer ``status``."""
        fault_set(self.data_dir, endpoint, status=status, count=count)

    def api_calls(self, endpoint: str) -> int:
        """How many calls of an Okta API endpoint the IdP answered (or failed)."""
        return calls(self.data_dir, endpoint)

    def api_reset(self) -> None:
        """Disarm every fault and zero the call counts."""
        faults_reset(self.data_dir)

    def set_groups(self, username: str, groups: Sequence[str]) -> None:
        """Replace a persona's groups; MI Admin sees them at that persona's next login."""
        subprocess.run(  # noqa: S603 (our own module, fixed arguments)
            [
                sys.executable,
                "-m",
                "idp",
                "--data-dir",
                str(self.data_dir),
                "set-groups",
                username,
                *groups,
            ],
            env=_child_env(),
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def wait_ready(self, timeout: float) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"the IdP exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http on loopback)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the IdP did not answer at {url} within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_idp(
    *,
    data_dir: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    client_secret: str = DEFAULT_CLIENT_SECRET,
    api_token: str = DEFAULT_API_TOKEN,
    redirect_uris: Sequence[str] = (),
    timeout: float = 60.0,
) -> IdpProcess:
    """Start the IdP and wait until it answers; the caller must ``stop()`` it."""
    port = port or free_port(host)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "idp",
        "--data-dir",
        str(data_dir),
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--client-secret",
        client_secret,
    ]
    for uri in redirect_uris:
        command += ["--redirect-uri", uri]
    idp = IdpProcess(
        base_url=f"http://{host}:{port}",
        data_dir=data_dir,
        client_secret=client_secret,
        api_token=api_token,
    )
    started = time.monotonic()
    with idp.log_path.open("ab") as log:
        idp.process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
            command,
            env=_child_env(api_token),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        idp.wait_ready(timeout)
    except BaseException:
        idp.stop()
        raise
    logger.info("IdP up at %s in %.1fs", idp.base_url, time.monotonic() - started)
    return idp


@contextmanager
def running_idp(
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    api_token: str = DEFAULT_API_TOKEN,
    redirect_uris: Sequence[str] = (),
) -> Iterator[IdpProcess]:
    """An IdP for the duration of the block; a temporary data directory unless one is given."""
    temp_dir = None
    if data_dir is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="mi-idp-"))
        data_dir = temp_dir
    idp = start_idp(
        data_dir=data_dir,
        port=port,
        client_secret=client_secret,
        api_token=api_token,
        redirect_uris=redirect_uris,
    )
    try:
        yield idp
    finally:
        idp.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
