"""Users of their own, for the sandboxes of a grader run as root (Docker, Gradescope).

Each sandbox's process runs as a fresh uid (used as its gid too) from a range far above any real user's, one no
process and no account uses: it cannot signal or read another sandbox, nor read or write any file other users
cannot. When the sandbox closes, every process of that uid is killed and its files in the folders every user may
write to are deleted, so nothing of a submission outlives its grading.
"""

import contextlib
import os
import random
import shutil
import signal
import stat
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

from ..errors import KitError

UID_RANGE = (1_000_000_000, 2_000_000_000)  # fresh uids for sandboxes, far above any real user's
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may write: cleaned of a sandbox user's files


WINDOWS = os.name == "nt"  # no process groups, setuid, resource limits nor Landlock there; tests set it to simulate


def running_as_root():
    return not WINDOWS and os.geteuid() == 0


def interpreter_problem():
    """Why a fresh unprivileged user cannot run this Python and NumPy, in one message ('' when it can): a folder on
    the way that other users cannot enter, or a file they cannot read (pyenv's /root is often mode 0700)."""
    import numpy

    executable = os.path.abspath(sys.executable)
    needed = {executable: 0o005, os.path.realpath(executable): 0o005, sysconfig.get_paths()["stdlib"]: 0o005,
              os.path.dirname(numpy.__file__): 0o005}
    for path, bits in needed.items():
        for checked, want in [*((folder, 0o001) for folder in Path(path).parents), (Path(path), bits)]:
            try:
                mode = checked.stat().st_mode
            except OSError:
                continue
            if mode & want != want:
                return (f"As root, grading runs each submission as a fresh unprivileged user, who cannot run this "
                        f"Python ({sys.executable}): other users cannot {'enter' if want == 0o001 else 'read'} "
                        f"{checked} (mode {stat.filemode(mode)}). Grade with a Python and NumPy every user can "
                        f"read (apt's python3, a virtual environment in /opt), or run chmod o+x {checked} if "
                        f"letting others pass through it is fine.")
    return ""


_claimed = set()  # the uids this process handed out and has not released: two sandboxes never share one
_claimed_lock = threading.Lock()


def mapped_ids(path):
    """The ranges of ids usable here ([(first, count)] from /proc/self/uid_map; everything when it is absent)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return [(0, 2**32 - 1)]
    return [(int(inside), int(count)) for inside, _, count in (line.split() for line in text.splitlines())]


def claim_uid():
    """A uid (used as the gid too) no process and no account uses, drawn from UID_RANGE (or the highest range this
    container maps), and not handed out twice by this process."""
    low, high = UID_RANGE
    ranges = [(max(first, low), min(first + count, high)) for first, count in
              mapped_ids("/proc/self/uid_map") + mapped_ids("/proc/self/gid_map")]
    usable = [(a, b) for a, b in ranges if a < b]
    if not usable:  # a user namespace that maps few ids: take from the top of the largest range, above 65535
        first, count = max(mapped_ids("/proc/self/uid_map"), key=lambda r: r[1])
        usable = [(max(first, 65536, first + count - 100_000), first + count - 1)]
        if usable[0][0] >= usable[0][1]:
            raise KitError("No unprivileged uid is free for the sandbox in this user namespace.")
    rng = random.SystemRandom()
    with _claimed_lock:
        for _ in range(100):
            low, high = rng.choice(usable)
            uid = rng.randrange(low, high)
            if uid not in _claimed and not uid_in_use(uid):
                _claimed.add(uid)
                return uid
    raise KitError("Could not find a free uid for the sandbox.")


def release_uid(uid):
    with _claimed_lock:
        _claimed.discard(uid)


def uid_in_use(uid):
    import pwd

    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return bool(processes_of(uid))


def processes_of(uid):
    """The pids of the live (not zombie) processes whose real, effective or saved uid is uid (Linux's /proc)."""
    pids = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else []:
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:  # it ended in the meantime
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()[:3]
        if str(uid) in uids and not fields.get("State", "").strip().startswith("Z"):
            pids.append(int(entry.name))
    return pids


def kill_processes_of(uid, rounds=50):
    """SIGKILL every process of uid, again until none is left (one may have forked meanwhile). True when none is."""
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return not processes_of(uid)


def remove_files_of(uid):
    """Delete what uid left in the folders every user may write to."""
    for folder in dict.fromkeys([*SHARED_TEMP, tempfile.gettempdir()]):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                owner = entry.stat(follow_symlinks=False).st_uid
            except OSError:
                continue
            if owner != uid:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
