"""Signed checkpoints of the audit trail: what they say, how they are signed and logged.

A checkpoint says "the trail had ``count`` events, the last one ``last_id`` with hash
``last_hash``", signed with HMAC-SHA256 under ``AUDIT_CHECKPOINT_KEY`` (an environment
setting, never stored in the database). Each one is also written to the application log
as one line starting with :data:`LOG_PREFIX`; that copy outside the database is the
witness when someone with owner rights erased both tables. ``audit_verify --expect LINE``
checks the trail against such a line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

LOG_PREFIX = "AUDIT_CHECKPOINT"

_LINE = re.compile(
    LOG_PREFIX + r" last_id=(?P<last_id>\d+) last_hash=(?P<last_hash>[0-9a-f]{64})"
    r" count=(?P<count>\d+) signature=(?P<signature>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint states, from a database row or a log line."""

    last_id: int
    last_hash: str
    count: int
    signature: str

    def signature_valid(self) -> bool:
        return hmac.compare_digest(
            self.signature, checkpoint_signature(self.last_id, self.last_hash, self.count)
        )

    def log_line(self) -> str:
        return (
            f"{LOG_PREFIX} last_id={self.last_id} last_hash={self.last_hash} "
            f"count={self.count} signature={self.signature}"
        )


def checkpoint_signature(last_id: int, last_hash: str, count: int) -> str:
    message = f"mi-admin-audit-checkpoint:v1:{last_id}:{last_hash}:{count}".encode()
    key = str(settings.AUDIT_CHECKPOINT_KEY).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_claim(last_id: int, last_hash: str, count: int) -> CheckpointClaim:
    return CheckpointClaim(
        last_id, last_hash, count, checkpoint_signature(last_id, last_hash, count)
    )


def parse_log_line(line: str) -> CheckpointClaim:
    """The checkpoint in a log line (timestamps and logger names around it are ignored)."""
    match = _LINE.search(line)
    if match is None:
        raise ValueError(
            f"not a checkpoint line: expected '{LOG_PREFIX} last_id=… last_hash=… count=… "
            "signature=…'"
        )
    return CheckpointClaim(
        int(match["last_id"]), match["last_hash"], int(match["count"]), match["signature"]
    )
