"""One writer per run folder.

Two `train` processes on the same ``--out`` would overwrite each other's
checkpoints every epoch, each with its own history: the run would silently
become a mix of both. The second one is refused instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from waste_sorting.errors import UsageError

LOCK_NAME = "train.lock"


def lock_run_folder(folder: Path) -> IO[str]:
    """Hold ``folder``'s lock for as long as the returned file stays open (the process, at most)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_NAME, "a+")  # held open: closing it releases the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise UsageError(f"{folder} is being written by another training process (pid {holder}); "
                         "wait for it, stop it, or choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
