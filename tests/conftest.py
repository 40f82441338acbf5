"""Shared fixtures: paths of the repository, the two model trees, and the real MNIST in ../shared/mnist.

On a student's checkout chapter03/startup/model.py holds the student's work, half-written or finished, and
`python -m pytest` must pass there all the same. So tests never rely on that file being as handed out: they use the
text the kit generates for it (`handed_out_startup`, a copy in a temporary folder), or they are marked
`@pytest.mark.handed_out_startup` (as is the fixture `startup`) and skip, saying why, when the file holds work.
"""

import ast
import hashlib
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

# A suite started in the background by a non-interactive shell inherits an ignored SIGINT, and so would the programs
# it starts: the Ctrl-C tests need Python's own handler (an ignored signal stays ignored across exec, a handled one
# does not).
signal.signal(signal.SIGINT, signal.default_int_handler)

# The kit speaks Chinese under a Chinese locale (coursekit/i18n.py); the tests read its English, on any machine.
os.environ["COURSEKIT_LANG"] = "en"

REPO = Path(__file__).resolve().parent.parent
CHAPTER = REPO / "chapter03"
SOLUTION_MODEL = CHAPTER / "solution" / "model.py"
STARTUP_MODEL = CHAPTER / "startup" / "model.py"
SHARED_MNIST = REPO.parent / "shared" / "mnist"

from coursekit.student_code import load_model_module  # noqa: E402

HANDED_OUT_MARKER = "handed_out_startup"
NO_REFERENCE = (f"the reference {SOLUTION_MODEL.relative_to(REPO).as_posix()} is not in this copy of the kit (a "
                "student edition): this test needs it")
NOT_UTF8 = ("chapter03/startup/model.py is not saved as UTF-8 (an editor saved it as GBK?), and Python cannot read "
            "it: save it as UTF-8 (VS Code: click the encoding in the status bar, 'Save with Encoding', 'UTF-8') "
            "and run again. model.py 不是 UTF-8 编码（编辑器存成了 GBK？），Python 读不了它：请另存为 UTF-8"
            "（VS Code：点状态栏里的编码，选“通过编码保存”，再选 UTF-8），然后重新运行。")


def recorded_digest():
    """The SHA-256 tools/make_startup.py recorded of the file it generated (chapter03/startup/.model.py.sha256)."""
    try:
        return STARTUP_MODEL.with_name(".model.py.sha256").read_text(encoding="utf-8").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return None


def handed_out_text():
    """The text of startup/model.py as handed out to students: what tools/make_startup.py generates from the
    reference; without the reference (a student edition), the file on disk while it is as handed out."""
    if SOLUTION_MODEL.is_file():
        from chapter03.common.tasks import TASKS
        from coursekit.startup import make_startup  # the generator, which a student edition leaves out
        return make_startup(SOLUTION_MODEL.read_text(encoding="utf-8"), TASKS)
    why = startup_holds_work()
    if why:
        pytest.skip(f"{NO_REFERENCE}, or {STARTUP_MODEL.name} as handed out, and {why}")
    return STARTUP_MODEL.read_text(encoding="utf-8")


def startup_holds_work():
    """Why the startup file on disk is not the file as handed out (a student's work in it), or '' when it is."""
    text = STARTUP_MODEL.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    if hashlib.sha256(text.encode("utf-8")).hexdigest() == recorded_digest():
        return ""
    return ("chapter03/startup/model.py holds your work (it is no longer the file as handed out): this test checks "
            "the file as handed out, so it is skipped")


def solved_startup(task_numbers):
    """The handed-out startup text with the stubs of the tasks numbered in task_numbers replaced by the solution's
    code, as a student would have written it: half-written for some tasks, finished for all."""
    if not SOLUTION_MODEL.is_file():
        pytest.skip(NO_REFERENCE)
    from coursekit.startup import BEGIN, END, HINT, HINT_CONTINUED  # the generator's markers

    regions, inside, in_hint = [], False, False
    for line in SOLUTION_MODEL.read_text(encoding="utf-8").split("\n"):
        if BEGIN.match(line):
            inside, in_hint = True, True
            regions.append([])
        elif END.match(line):
            inside = False
        elif inside:
            in_hint = in_hint and bool(HINT.match(line) or HINT_CONTINUED.match(line))
            if not in_hint:
                regions[-1].append(line)
    lines, stubs = [], iter(regions)
    for line in handed_out_text().split("\n"):
        stub = re.search(r'raise NotImplementedError\("Task (\d+):', line)
        code = next(stubs) if stub else None
        lines += code if stub and int(stub.group(1)) in task_numbers else [line]
    return "\n".join(lines)


# Words a Chinese run may print in Latin letters: names of things, not English.
NAMES = {"MNIST", "MNIST_MIRROR", "MLP", "SGD", "NumPy", "BLAS", "Python", "URL", "TODO", "zh", "en", "http", "https",
         "file", "CLASS", "TASK", "CHECK", "NaN", "inf", "OneDrive", "python", "True", "dtype", "float32", "float64",
         "dx", "dW", "db", "dprobs"}


def english_words(text):
    """The words in Latin letters of text, outside code: commands, paths and file names, flags, `quoted code`, error
    names, the solution's identifiers (class, method and array names) and NAMES."""
    tree = ast.parse(SOLUTION_MODEL.read_text(encoding="utf-8"))
    code = {getattr(node, key) for node in ast.walk(tree) for key in ("id", "attr", "name", "arg")
            if isinstance(getattr(node, key, None), str)}
    text = re.sub(r"python \S+\.py.*|`[^`]*`|\w*Error\b|\S*[/\\.<>_|]\S*|--[\w-]+", " ", text)
    return sorted({word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in NAMES | code})


def pytest_configure(config):
    config.addinivalue_line("markers", f"{HANDED_OUT_MARKER}: the test needs chapter03/startup/model.py as handed "
                                       "out; skipped when it holds a student's work")
    config.addinivalue_line("markers", "requires(*what): machinery this OS or machine may lack (sandbox, root, "
                                       "posix, bash): the test skips, saying why, where it is missing")


def missing(what):
    """Why this machine lacks `what` (see the marker `requires`), or ''. The grader's own words for "sandbox"."""
    from coursekit import sandbox

    reasons = {
        "sandbox": lambda: sandbox.interpreter_problem() if sandbox.running_as_root() else "",
        "root": lambda: "" if sandbox.running_as_root() else "needs root: the sandbox users are root's (CI, Docker)",
        "posix": lambda: "needs POSIX signals, uids and limits (Linux, macOS)" if sandbox.users.WINDOWS else "",
        "bash": lambda: "" if shutil.which("bash") else "needs bash (Linux, macOS, Git Bash)",
    }
    return next((why for why in (reasons[name]() for name in what) if why), "")


def pytest_runtest_setup(item):
    if item.get_closest_marker(HANDED_OUT_MARKER):
        why = startup_holds_work()
        if why:
            pytest.skip(why)
    for mark in item.iter_markers("requires"):
        why = missing(mark.args)
        if why:
            pytest.skip(why)


@pytest.fixture(scope="session")
def solution():
    """The reference model.py, imported as a module."""
    if not SOLUTION_MODEL.is_file():
        pytest.skip(NO_REFERENCE)
    return load_model_module(SOLUTION_MODEL)


@pytest.fixture(scope="session")
def startup():
    """chapter03/startup/model.py as handed out (every TODO a stub), imported; the test skips when the file holds
    a student's work."""
    why = startup_holds_work()
    if why:
        pytest.skip(why)
    return load_model_module(STARTUP_MODEL)


@pytest.fixture(scope="session")
def handed_out_startup(tmp_path_factory):
    """The path of a copy of startup/model.py as handed out (generated from the solution), whatever the file on disk
    holds: <tmp>/chapter03/startup/model.py, so that messages name it as they name the real one."""
    path = tmp_path_factory.mktemp("handed_out") / "chapter03" / "startup" / "model.py"
    path.parent.mkdir(parents=True)
    path.write_text(handed_out_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def shared_mnist():
    """The folder holding the real MNIST; tests that need it skip where it is absent (a student's fresh clone)."""
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST is not at {SHARED_MNIST} (only the course's machines and CI have it)")
    return SHARED_MNIST


def pytest_sessionstart(session):
    """A model.py an editor saved as GBK (Chinese comments): Python runs it while the other bytes are in comments
    only, and the suite does too (tests of the file as handed out skip); where Python cannot, one line says what to do
    rather than an error in every test that reads it."""
    source = STARTUP_MODEL.read_bytes()
    try:
        source.decode("utf-8")
    except UnicodeDecodeError:
        try:
            compile(source, str(STARTUP_MODEL), "exec")
        except SyntaxError:
            pytest.exit(NOT_UTF8, returncode=1)
