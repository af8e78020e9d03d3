"""Exit codes and the one exception commands raise to end with one (and a sentence)."""

from __future__ import annotations

import enum
from typing import Any

import httpx


class ExitCode(enum.IntEnum):
    """What ``mi`` exits with (README, "The mi command line")."""

    OK = 0
    FAILED = 1  # the operation failed, or the server refused the request (400, 409, 422)
    USAGE = 2  # bad arguments (argparse's own code)
    NOT_AUTHENTICATED = 3  # no cached login, expired session, or the token refused (401)
    FORBIDDEN = 4  # 403: the role or scope does not allow it
    NOT_FOUND = 5  # 404
    SERVER = 6  # 5xx, 429, the network, or an answer that is not the API's


class CliError(Exception):
    """Ends the command: ``message`` on stderr, ``code`` as the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def exit_code_for_status(status: int) -> ExitCode:
    """The exit code for an HTTP error status."""
    if status == 401:
        return ExitCode.NOT_AUTHENTICATED
    if status == 403:
        return ExitCode.FORBIDDEN
    if status == 404:
        return ExitCode.NOT_FOUND
    if status == 429 or status >= 500:
        return ExitCode.SERVER
    return ExitCode.FAILED


def problem_message(response: httpx.Response) -> str:
    """The sentence to show for an error answer: the problem+json ``title: detail`` and its
    field errors, or the status line when the body is not a problem."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not (body.get("detail") or body.get("title")):
        return f"HTTP {response.status_code} {response.reason_phrase}".strip()
    title = str(body.get("title") or response.reason_phrase)
    detail = str(body.get("detail") or "")
    message = f"{title}: {detail}" if detail and detail != title else title
    errors = body.get("errors")
    if isinstance(errors, dict) and not detail.startswith("The request did not validate"):
        fields = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items())
        message = f"{message} ({fields})"
    if response.status_code == 401:
        message += " Run `mi login`."
    return message


def error_for(response: httpx.Response) -> CliError:
    return CliError(problem_message(response), exit_code_for_status(response.status_code))
