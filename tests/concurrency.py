"""Run callables in threads released together, each on its own database connection: how
the tests race two requests against each other."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads released together; each result or the exception raised."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results
