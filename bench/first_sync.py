"""The first "Sync now" after start vs the later ones, against a real `make run` stack.

Starts scripts/devstack.py in a temporary directory on free ports (SQLite, filesystem
broker: the demo's defaults), signs in as devops through the local IdP, then POSTs "Sync
now" on one instance after another (each a new operation, so each publishes a task) and
prints the response time of each POST, without following its redirect. Pass `--url URL`
to measure an already running stack instead (its first request must be this script's).
Run: `.venv/bin/python bench/first_sync.py`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idp import DEMO_PASSWORD  # noqa: E402

REPEAT = 8
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SLUG = re.compile(r'href="/instances/([a-z0-9-]+)/"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(var_dir: Path) -> tuple[subprocess.Popen[str], str]:
    web = _free_port()
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {
        "MI_VAR_DIR": str(var_dir),
        "MI_WEB_PORT": str(web),
        "MI_IDP_PORT": str(_free_port()),
        "MI_FLEETSIM_PORT": str(_free_port()),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "devstack.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "MI Admin is up" in line:
                up.set()

    threading.Thread(target=read, daemon=True).start()
    if not up.wait(timeout=240):
        os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit("the stack did not come up")
    return proc, f"http://127.0.0.1:{web}"


def sign_in(session: requests.Session, url: str, username: str = "devops") -> None:
    page = session.get(f"{url}/oidc/authenticate/", timeout=30)
    if "/login/" in page.url and not page.url.startswith(url):
        token = _CSRF.search(page.text)
        assert token, "no CSRF token on the IdP's login page"
        next_url = parse_qs(urlsplit(page.url).query).get("next", [""])[0]
        page = session.post(
            page.url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": DEMO_PASSWORD,
                "next": next_url,
            },
            timeout=30,
        )
    assert page.url.startswith(url), f"sign-in ended at {page.url}"


def measure(url: str) -> list[float]:
    session = requests.Session()
    sign_in(session, url)
    fleet = session.get(f"{url}/instances/?per_page=100", timeout=30).text
    slugs = list(dict.fromkeys(_SLUG.findall(fleet)))[:REPEAT]
    assert len(slugs) == REPEAT, f"found only {len(slugs)} instances on the fleet page"
    token = session.cookies.get("csrftoken") or _CSRF.search(fleet).group(1)  # type: ignore[union-attr]
    times = []
    for slug in slugs:
        start = time.perf_counter()
        response = session.post(
            f"{url}/instances/{slug}/sync/",
            data={"idempotency_key": str(uuid.uuid4()), "csrfmiddlewaretoken": token},
            headers={"Referer": f"{url}/instances/{slug}/"},
            allow_redirects=False,
            timeout=60,
        )
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 302, (response.status_code, response.text[:300])
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running stack (default: start one)")
    args = parser.parse_args()
    if args.url:
        times = measure(args.url.rstrip("/"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start_stack(Path(tmp) / "var")
            try:
                times = measure(url)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
    later = sorted(times[1:])
    print(f"Sync now POST, {len(times)} instances, response time in ms")
    print(f"  first:          {times[0]:8.1f}")
    print(f"  later (median): {later[len(later) // 2]:8.1f}")
    print(f"  later (max):    {later[-1]:8.1f}")
    print("  all:            " + " ".join(f"{t:.0f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
