"""Helpers of the grading tests: a copy of the kit to grade with, submissions made from the two model.py files, and
what grading leaves behind (processes of the sandbox users, the kit's files).

The tests grade with a copy of the kit: run as root, the grader makes the kit's folder private (chmod o-rwx), which
it should not do to the repository the tests run from.
"""

import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import CHAPTER, REPO, SOLUTION_MODEL, handed_out_text
from coursekit import sandbox

SOLUTION = SOLUTION_MODEL.read_text(encoding="utf-8")
STARTUP = handed_out_text()  # the startup file as handed out: on a student's checkout the real one holds work
CLASSES = ["Linear", "ReLU", "Sigmoid", "Softmax", "CrossEntropyLoss", "MLP"]
KIT_PARTS = ("coursekit", CHAPTER.name)
FIXED = ("student", "path", "total", "seconds", "problems", "most_similar", "similarity",
         "similarity_to_reference")  # the CSV's columns that are not checks


# Windows, simulated: the code decides by coursekit.sandbox.users.WINDOWS; POSIX-only modules cannot be imported.
SIMULATE_WINDOWS = ("import sys\n"
                    "sys.modules.update(dict.fromkeys(('resource', 'fcntl', 'pwd', 'grp', 'termios')))\n"
                    "from coursekit.sandbox import users\n"
                    "users.WINDOWS = True\n")


def as_on_windows(kit, *args, cwd, timeout=900):
    """`python ARGS` (a script and its arguments, or -m module ...) with Windows simulated (SIMULATE_WINDOWS), the
    kit of the folder `kit` first on the path; the CompletedProcess."""
    run = ("runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)" if args[0] == "-m" else
           "runpy.run_path(sys.argv[0], run_name='__main__')")
    code = SIMULATE_WINDOWS + "import runpy\nsys.argv = sys.argv[1:]\n" + run
    args = args[1:] if args[0] == "-m" else args
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          encoding="utf-8", timeout=timeout, env=dict(os.environ, PYTHONPATH=str(kit)))


def solution_lines(solution):
    """The code lines (not comments) between `# BEGIN SOLUTION` and `# END SOLUTION` in the reference."""
    lines, inside = [], False
    for line in Path(solution).read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith(("# BEGIN SOLUTION", "# END SOLUTION")):
            inside = text.startswith("# BEGIN")
        elif inside and text and not text.startswith("#"):
            lines.append(text)
    return lines


def copy_kit(folder):
    """A copy of the kit (coursekit/ and the chapter) in folder; the path of its grade.py."""
    for part in KIT_PARTS:
        shutil.copytree(REPO / part, Path(folder) / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return Path(folder) / CHAPTER.name / "grade.py"


def kit_digest(folder):
    """{relative path: SHA-256} of every file of a kit copy."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def edited(text, *edits):
    """text with each (old, new) applied; old must occur in it (else the test is out of date)."""
    for old, new in edits:
        assert old in text, f"{old!r} is no longer in the file: update this test"
        text = text.replace(old, new, 1)
    return text


def partial(*done):
    """The solution with only the tasks numbered in `done` written: the others' code is a stub again."""
    def stub(match):
        task = int(match.group(2))
        if task in done:
            return match.group(0)
        return f'{match.group(1)}raise NotImplementedError("Task {task}, not written")\n'
    return re.sub(r"( *)# BEGIN SOLUTION Task (\d+)\n.*?# END SOLUTION\n", stub, SOLUTION, flags=re.S)


def write_submission(folder, name, text):
    """folder/name/model.py holding text; the folder, as a PATH for the grader."""
    path = Path(folder) / name / "model.py"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path.parent


def run_grade(grade, *args, cwd, timeout=900, user=None):
    """grade.py with args, from cwd (as the uid `user`, with the gid of the same number); the CompletedProcess."""
    as_user = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    return subprocess.run([sys.executable, str(grade), *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL, **as_user)


def read_csv(path):
    """The rows of a grades CSV, by path."""
    with open(path, encoding="utf-8", newline="") as file:
        return {row["path"]: row for row in csv.DictReader(file)}


def check_columns(row):
    return [name for name in row if name not in FIXED]


def class_of(check_name):
    found = [cls for cls in CLASSES if cls in check_name]
    assert len(found) == 1, f"check {check_name!r} should name exactly one class"
    return found[0]


def points_per_class(row):
    """{class: points earned} from a CSV row."""
    points = dict.fromkeys(CLASSES, 0)
    for name in check_columns(row):
        points[class_of(name)] += int(row[name])
    return points


def sandbox_processes():
    """The live processes of a sandbox user (uids from sandbox.UID_RANGE) that no grader holds: ones that escaped
    their sandbox (their parent ended, or is a sandbox user's). A sandbox's own process, while it runs, has the
    grader as its parent: those of a grading run at the same time (another test run on the machine) are not counted.
    """
    low, high = sandbox.UID_RANGE
    status = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                status[int(entry.name)] = Path(entry.path, "status").read_text()
            except OSError:
                continue
    found = []
    for pid, text in status.items():
        uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
        if not low <= uid < high or re.search(r"^State:\s+Z", text, re.M):
            continue
        parent = int(re.search(r"^PPid:\s+(\d+)", text, re.M).group(1))
        parent_uid = re.search(r"^Uid:\s+(\d+)", status.get(parent, "Uid: -1"), re.M).group(1)
        if parent <= 1 or parent not in status or low <= int(parent_uid) < high:
            found.append((pid, uid))
    return found


def sandbox_files():
    """What sandbox users own in the shared temporary folders: there should be nothing between runs."""
    low, high = sandbox.UID_RANGE
    found = []
    for folder in sandbox.SHARED_TEMP:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        found += [entry.path for entry in entries if low <= entry.stat(follow_symlinks=False).st_uid < high]
    return found
