"""Cheating submissions against chapter03/grade.py: each is held to its honest score, and leaves the kit, the other
submissions, the results and the machine as they were.

Each cheat is the startup file (0 points honest) or the solution (100) plus code that tries one way around the
grader, the way a clever student would: patch NumPy or the checker, forge replies on the channel, rewrite the results
after grading, read the reference from disk or from the stack, tamper with the kit, sabotage the submissions graded
beside it, leak files through its messages, leave processes behind, hog memory or time. They are
graded in one batch, two at a time, between honest "victims" whose grades must not move. As root (CI, Docker), the
grader runs each as an unprivileged user of its own.
"""

import json
import re
import sysconfig
import time
from pathlib import Path

import pytest
from submissions import (
    SOLUTION,
    STARTUP,
    copy_kit,
    edited,
    kit_digest,
    partial,
    read_csv,
    run_grade,
    sandbox_files,
    sandbox_processes,
    write_submission,
)

pytestmark = pytest.mark.requires("root", "sandbox")

LINEAR_FORWARD_STUB = 'raise NotImplementedError("Task 1: Linear.forward, see chapter03/README.md section 1")'
MARKER = Path(sysconfig.get_paths()["purelib"]) / "cheat-marker.txt"  # a cheat tries to create it

# What a student finds on the machine: the grader's folders, from the command lines of its processes.
FIND_GRADER = '''
import os


def processes():
    try:
        return os.listdir("/proc")
    except OSError:
        return []


def grader_folders():
    found = []
    for pid in processes():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                arguments = file.read().split(b"\\0")
        except OSError:
            continue
        found += [os.path.dirname(a.decode()) for a in arguments if a.endswith(b"grade.py")]
    return found
'''


def in_linear_forward(code):
    """The startup file with Linear.forward's stub replaced by code (indented 8 spaces)."""
    return edited(STARTUP, (LINEAR_FORWARD_STUB, code.strip().replace("\n", "\n        ")))


CHEATS = {  # name -> (model.py, its honest score)
    "patches_numpy": (STARTUP + '''
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.abs = lambda x, *args, **kwargs: np.zeros_like(x)
np.isfinite = lambda x, *args, **kwargs: np.ones(np.shape(x), dtype=bool)
''' + "".join(f'''
{cls}.forward = lambda self, x, *rest: np.zeros_like(x)
{cls}.backward = lambda self, grad_output=None: np.zeros_like(grad_output)
''' for cls in ("Linear", "Sigmoid", "Softmax", "CrossEntropyLoss")), 0),
    "patches_the_checker": (STARTUP + FIND_GRADER + '''
import sys
for folder in grader_folders():
    sys.path[:0] = [os.path.dirname(folder), folder]
for name in ("coursekit.gradcheck", "coursekit.report", "coursekit.grading", "chapter03.common.checks"):
    try:
        __import__(name)
    except Exception:
        pass


def patch(module):
    if hasattr(module, "require_close"):
        module.require_close = lambda *args, **kwargs: None
    if hasattr(module, "require_array"):
        module.require_array = lambda got, *args, **kwargs: np.asarray(got)
    if hasattr(module, "require_number"):
        module.require_number = lambda got, *args, **kwargs: 0.0
    if hasattr(module, "run_one") and hasattr(module, "CheckResult"):  # every check a pass
        module.run_one = lambda *args, result=module.CheckResult: result(args[2], args[3], args[4], "pass")


for module in list(sys.modules.values()):
    patch(module)
''', 0),
    "forges_replies": (STARTUP + '''
import json, struct


def forge():
    for request in range(300):
        head = json.dumps({"id": request, "value": 1.0, "buffers": []}).encode()
        for fd in range(3, 12):
            try:
                os.write(fd, struct.pack(">II", len(head), 0) + head)
            except OSError:
                pass


import os
forge()
Module.__call__ = lambda self, *args: (forge(), self.forward(*args))[1]
''', 0),
    "rewrites_the_results_later": (STARTUP + '''
import os, subprocess, sys
LATER = """
import glob, time
time.sleep(2)
for pattern in ("/tmp/**/results.json", "/tmp/**/grades.csv", "/autograder/results/results.json"):
    for path in glob.glob(pattern, recursive=True):
        try:
            with open(path, "w") as file:
                file.write('{"score": 100}')
        except OSError:
            pass
"""
try:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            exec(LATER)
        os._exit(0)
except OSError:
    pass
try:
    subprocess.Popen([sys.executable, "-c", LATER], start_new_session=True)
except OSError:
    pass
''', 0),
    "reads_the_solution": (STARTUP + FIND_GRADER + '''
for folder in grader_folders() + ["/autograder/source/chapter03"]:
    try:
        with open(os.path.join(folder, "solution", "model.py")) as file:
            exec(file.read())
        break
    except OSError:
        pass
''', 0),
    "walks_the_stack": (STARTUP + '''
import gc, sys


def find_reference():
    """A module holding the reference layers: in a frame of the caller, or anywhere in memory."""
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            if hasattr(value, "Softmax") and hasattr(value, "Linear") and vars(value) is not globals():
                return value
        frame = frame.f_back
    for obj in gc.get_objects():
        if type(obj).__name__ == "module" and hasattr(obj, "Softmax") and vars(obj) is not globals():
            return obj
    return None


reference = find_reference()
if reference is not None:
    for name in ("Linear", "Sigmoid", "Softmax", "CrossEntropyLoss"):
        globals()[name] = getattr(reference, name)
''', 0),
    "tampers_with_the_kit": (STARTUP + FIND_GRADER + f'''
import glob
targets = [{str(MARKER)!r}]
for folder in grader_folders():
    targets += glob.glob(os.path.join(os.path.dirname(folder), "**", "*.py"), recursive=True)
for path in targets:
    try:
        with open(path, "a") as file:
            file.write("\\nrequire_close = lambda *args, **kwargs: None\\n")
    except OSError:
        pass
''', 0),
    "sabotages_the_others": (SOLUTION + FIND_GRADER + '''
import glob, signal
for pid in filter(str.isdigit, processes()):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            command = file.read()
    except OSError:
        continue
    if int(pid) != os.getpid() and (b"grade.py" in command or b"side of a sandbox" in command):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
for path in glob.glob("/tmp/sandbox-*/*.py") + glob.glob("/tmp/**/victim*/model.py", recursive=True):
    try:
        with open(path, "w") as file:
            file.write("raise SystemExit")
    except OSError:
        pass
''', 100),
    "leaks_files": (in_linear_forward('''
line = "a line of text"
try:
    with open("/etc/shadow") as file:
        shadow = file.read()
except OSError as error:
    shadow = str(error)
print(line, flush=True)
import sys
print(line, file=sys.stderr, flush=True)
raise ValueError(line + " | " + shadow + "y" * 100_000)
'''), 0),
    "leaves_processes": (STARTUP + '''
import os, subprocess, threading, time
try:
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
except OSError:
    pass
try:
    threading.Thread(target=time.sleep, args=(60,)).start()
except RuntimeError:
    pass
try:
    subprocess.Popen(["sleep", "60"], start_new_session=True)
except OSError:
    pass
''', 0),
    "hogs_memory": (STARTUP + "\nhog = np.ones(2**31)\n", 0),
    "sleeps": (in_linear_forward("import time\ntime.sleep(100)"), 0),
    "returns_a_fake_array": (in_linear_forward('''
class Fake:
    __array_interface__ = {"shape": (len(x), 5), "typestr": "<f8", "data": (8, False), "version": 3}
    __array_priority__ = 1000
return Fake()
'''), 0),
}
VICTIMS = {"victim_solution": (SOLUTION, 100), "victim_partial": (partial(1), 26), "victim_startup": (STARTUP, 0)}


def batch_order():
    """Cheats and victims interleaved, so that with --jobs 2 each victim is graded beside a cheat."""
    cheats, victims = list(CHEATS), list(VICTIMS) * 3
    names = []
    for i, cheat in enumerate(cheats):
        names += [cheat, victims[i % len(victims)]]
    return names


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The kit's digest before, then the batch graded (--jobs 2, --timeout 2): stdout, stderr, rows, the CSV's text,
    and the kit's digest after."""
    MARKER.unlink(missing_ok=True)
    kit = copy_kit(tmp_path_factory.mktemp("kit"))
    before = kit_digest(kit.parent.parent)
    folder = tmp_path_factory.mktemp("batch")
    paths, expected = [], {}
    for index, name in enumerate(batch_order()):
        text, honest = {**CHEATS, **VICTIMS}[name]
        paths.append(write_submission(folder, f"{name}-{index}", text))
        expected[str(paths[-1])] = honest
    result = run_grade(kit, *paths, "--jobs", "2", "--timeout", "2", "--csv", folder / "grades.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    csv_text = (folder / "grades.csv").read_text(encoding="utf-8")
    return {"stdout": result.stdout, "stderr": result.stderr, "rows": read_csv(folder / "grades.csv"),
            "expected": expected, "csv": folder / "grades.csv", "csv_text": csv_text, "kit": kit,
            "before": before, "after": kit_digest(kit.parent.parent)}


@pytest.mark.parametrize("name", list(CHEATS) + list(VICTIMS))
def test_each_is_held_to_its_honest_score(graded, name):
    rows = {path: row for path, row in graded["rows"].items() if Path(path).name.startswith(name + "-")}
    assert rows
    for path, row in rows.items():
        assert int(row["total"]) == graded["expected"][path], (path, row["problems"])


def test_the_kit_is_unchanged_on_disk(graded):
    assert graded["after"] == graded["before"]
    assert not MARKER.exists(), "a submission wrote into Python's site-packages"


def test_nothing_is_left_running_or_lying_around(graded):
    assert sandbox_processes() == []
    assert sandbox_files() == []


def test_the_results_are_not_rewritten_afterwards(graded):
    time.sleep(3)  # the "later" cheat waits 2 s
    assert graded["csv"].read_text(encoding="utf-8") == graded["csv_text"]
    assert sandbox_processes() == []


def test_no_output_holds_a_file_it_could_not_read(graded):
    for text in (graded["stdout"], graded["stderr"], graded["csv_text"]):
        assert not re.search(r"^root:", text, re.M), "/etc/shadow"
        assert "y" * 1000 not in text, "student text is cut"


def test_the_grader_says_it_ran_them_as_users_of_their_own(graded):
    assert graded["stdout"].startswith("Running as root: each submission runs as an unprivileged user of its own")
    assert "Traceback" not in graded["stderr"]


def test_a_rewrite_of_results_json_after_the_fact_fails(tmp_path):
    kit = copy_kit(tmp_path / "kit")
    cheat = write_submission(tmp_path, "cheat", CHEATS["rewrites_the_results_later"][0])
    result = run_grade(kit, cheat, "--json", tmp_path / "results" / "results.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "results" / "results.json").read_text(encoding="utf-8")
    time.sleep(3)
    assert (tmp_path / "results" / "results.json").read_text(encoding="utf-8") == written
    assert json.loads(written)["score"] == 0
