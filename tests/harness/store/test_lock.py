import fcntl
import subprocess
import sys

import pytest

from harness.errors import UsageError
from harness.store.lock import LOCK, DirectoryLock


def test_lock_is_exclusive_between_processes_and_released_on_exit(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from harness.store.lock import DirectoryLock\n"
            f"lock = DirectoryLock({str(tmp_path)!r}); lock.acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=rf"pid {holder.pid}"):
            DirectoryLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with DirectoryLock(tmp_path):  # the OS dropped the dead holder's lock
        with open(tmp_path / LOCK) as f, pytest.raises(OSError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_unwritable_place_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write results"):
        DirectoryLock(blocker / "sub").acquire()
