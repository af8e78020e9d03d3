"""The simulator's runtime: state, operations, faults and stats, plus the optional state file.

With a state file, the state is loaded at start and written (atomically, shortly after each
change) so ``make run`` keeps its seeded fleet across restarts. Operations, faults and stats
are not persisted: an operation in flight when the process stops is lost, as after a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from fleetsim.faults import Faults, Stats
from fleetsim.operations import Operations, SqlOperations
from fleetsim.state import Store

logger = logging.getLogger(__name__)

SAVE_DELAY = 0.2


class Simulator:
    def __init__(self, state_file: Path | None = None) -> None:
        self.store = Store()
        self.ops = Operations(on_change=self.changed)
        self.sql_ops = SqlOperations()
        self.faults = Faults()
        self.stats = Stats()
        self.state_file = state_file
        self._save_pending = False
        self._save_task: asyncio.Task[None] | None = None
        self._write_lock = threading.Lock()

    def now(self) -> float:
        return time.time()

    def note_deploys(self) -> None:
        """Count the VMs deploying a version right now, for the peak in the stats."""
        now = self.now()
        deploying = 0
        for inst in self.store.instances.values():
            inst.settle(now)
            deploying += inst.reconcile_target is not None
        self.stats.deploys(deploying)

    def reset(self) -> None:
        self.store = Store()
        self.ops.clear()
        self.sql_ops.clear()
        self.faults.clear()
        self.stats.reset()
        self.changed()

    # --- persistence -------------------------------------------------------------------------

    def load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text())
        self.store = Store.from_json(data)
        logger.info("loaded %d instances from %s", len(self.store.instances), self.state_file)

    def changed(self) -> None:
        """Schedule a save; bursts of changes are written once."""
        if self.state_file is None or self._save_pending:
            return
        self._save_pending = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._save_pending = False
            self.save_now()
            return
        loop.call_later(SAVE_DELAY, self._start_save)

    def _start_save(self) -> None:
        self._save_pending = False
        data = self.store.to_json()
        self._save_task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write, data)
        )

    def save_now(self) -> None:
        if self.state_file is not None:
            self._write(self.store.to_json())

    def _write(self, data: dict[str, Any]) -> None:
        assert self.state_file is not None
        with self._write_lock:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.state_file)
