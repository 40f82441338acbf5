"""What protects the grader from the submissions: said (--help, and the first line of each run, with what holds on
this OS) and done as root (the paths no sandbox user may read, made private)."""

import stat
from pathlib import Path

from ..errors import KitError
from ..sandbox import running_as_root
from .submission import find_model_file

KIT = Path(__file__).resolve().parent.parent.parent  # the folder holding coursekit/ and the chapters
LIMIT_NAMES = {"CPU": "CPU time", "AS": "memory", "FSIZE": "file size", "NPROC": "no new process"}
GUARANTEES = (
    "On every OS, each submission runs in a process of its own that only turns the grader's inputs into outputs "
    "(the grader draws the inputs, computes the expected values and decides), with a time limit. Linux and macOS "
    "add limits on CPU time, file size and processes (and memory, where the OS grants it: not macOS), so nothing of "
    "it outlives its checks. Run as root (Docker, Gradescope), it also runs as an unprivileged user of its own: it "
    "cannot read the solution, the checks, the results or another submission, nor write outside its scratch folder "
    "or signal another process. Not as root (macOS, Windows, Linux) it runs as you: it can read and write every file "
    "you can, the solution too. Grade untrusted code as root in a container, as Gradescope does. The first line of "
    "each run says which of these hold.")


def mode_line(granted):
    """What protects the grader in this run, in one line; granted: the limits the OS lets a process lower."""
    limits = [text for name, text in LIMIT_NAMES.items() if name in granted]
    limited = f"; limits: time, {', '.join(limits)}" if limits else "; a time limit only (this OS grants no other)"
    if running_as_root():
        return f"Running as root: each submission runs as an unprivileged user of its own{limited}."
    return (f"Not running as root: each submission runs in a process of its own, as you: it can read and write your "
            f"files, the solution too{limited} (see --help).")


def private_paths(assignment, args):
    """What no student's process may read: the kit (solution and checks), the results' folders (unless shared, like
    /tmp: no student's process is alive when results are written), the submissions' files."""
    outputs = [Path(path).resolve().parent for path in (args.json, args.csv) if path]
    submissions = [find_model_file(Path(label), assignment.file_name)[0] for label in args.paths]
    return [KIT, *(folder for folder in outputs if not shared(folder)),
            *(model_file.resolve() for model_file in submissions if model_file)]


def shared(folder):
    """True for a folder every user may write to, such as /tmp (its sticky bit keeps users from each other's files)."""
    return folder.exists() and bool(folder.stat().st_mode & stat.S_ISVTX)


def protect(paths):
    """Take every permission of "other users" away from paths (files, and folders not shared like /tmp), so that the
    sandbox users cannot reach them; lines saying what changed."""
    changed = []
    for path in dict.fromkeys(paths):
        if not path.exists():
            path.mkdir(parents=True)  # an output folder: private from the start
        mode = path.stat().st_mode
        if path.is_dir() and (mode & stat.S_ISVTX or path == Path(path.anchor)):
            raise KitError(f"{path} is a folder every user shares: keep the kit in a folder of its own.")
        if mode & 0o007:
            path.chmod(mode & ~0o007)
            changed.append(f"{path} ({stat.filemode(mode)} -> {stat.filemode(mode & ~0o007)})")
    if changed:
        return [f"Made private to their owner and group, so that those users cannot read them: {', '.join(changed)}."]
    return []
