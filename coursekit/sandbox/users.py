"""As root (Docker, Gradescope), each sandbox runs as a fresh uid (its gid too) that no process and no account uses:
it cannot signal or read another sandbox, nor any file other users cannot. At the end its processes and its files in
the shared folders go."""

import contextlib
import os
import random
import shutil
import signal
import stat
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from ..errors import KitError

UID_RANGE = (1_000_000_000, 2_000_000_000)  # fresh uids for sandboxes, far above any real user's
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may write: cleaned of a sandbox user's files
WINDOWS = os.name == "nt"  # no process groups, setuid nor resource limits there; tests set it to simulate Windows
_claimed = set()  # the uids this process handed out and has not released: two sandboxes never share one


def running_as_root():
    return not WINDOWS and os.geteuid() == 0


def interpreter_problem():
    """Why a fresh unprivileged user cannot run this Python and NumPy, in one message ('' when it can): a folder on
    the way that other users cannot enter, or a file they cannot read (pyenv's /root is often mode 0700)."""
    import numpy

    executable = os.path.abspath(sys.executable)
    for path in (executable, os.path.realpath(executable), sysconfig.get_paths()["stdlib"],
                 os.path.dirname(numpy.__file__)):
        for checked, want in [*((folder, 0o001) for folder in Path(path).parents), (Path(path), 0o005)]:
            with contextlib.suppress(OSError):
                mode = checked.stat().st_mode
                if mode & want != want:
                    return (f"As root, grading runs each submission as a fresh unprivileged user, who cannot run "
                            f"this Python ({sys.executable}): other users cannot "
                            f"{'enter' if want == 0o001 else 'read'} {checked} (mode {stat.filemode(mode)}). Grade "
                            f"with a Python and NumPy every user can read (apt's python3, a virtual environment in "
                            f"/opt), or run chmod o+x {checked} if letting others pass through it is fine.")
    return ""


def claim_uid():
    """A uid (the gid too) no process and no account uses, from UID_RANGE within what this container maps (a user
    namespace may map few: then from the top of its ids, above 65535), never handed out twice by this process."""
    try:
        first, _, count = map(int, Path("/proc/self/uid_map").read_text().split()[:3])
    except (OSError, ValueError):
        first, count = 0, 2**32 - 1
    low, high = max(UID_RANGE[0], first), min(UID_RANGE[1], first + count)
    if low >= high:
        low, high = max(65536, first + count - 100_000), first + count - 1
    import pwd

    rng = random.SystemRandom()
    for _ in range(100 if low < high else 0):
        uid = rng.randrange(low, high)
        with contextlib.suppress(KeyError):
            pwd.getpwuid(uid)
            continue
        if uid not in _claimed and not processes_of(uid):
            _claimed.add(uid)
            return uid
    raise KitError("Could not find a free uid for the sandbox.")


def processes_of(uid):
    """The pids of the live (not zombie) processes whose real, effective or saved uid is uid (Linux's /proc)."""
    pids = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else []:
        try:
            status = Path(entry.path, "status").read_text() if entry.name.isdigit() else ""
        except OSError:  # it ended in the meantime
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if str(uid) in fields.get("Uid", "").split()[:3] and not fields.get("State", "").strip().startswith("Z"):
            pids.append(int(entry.name))
    return pids


def kill_processes_of(uid):
    """SIGKILL every process of uid, again until none is left (one may have forked meanwhile)."""
    for _ in range(50):
        pids = processes_of(uid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def release_uid(uid):
    """Delete what uid left in the folders every user may write to; the uid may be handed out again."""
    _claimed.discard(uid)
    for folder in dict.fromkeys([*SHARED_TEMP, tempfile.gettempdir()]):
        with contextlib.suppress(OSError):
            for entry in list(os.scandir(folder)):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
