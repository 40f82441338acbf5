"""`python -m pytest` passes on a student's checkout, whatever chapter03/startup/model.py holds: half-written or
finished.

A copy of the repository gets a startup/model.py with the solution's code in place of some stubs, as a student's
would be, and the test files that can depend on that file (those that mention the startup tree) run there, in a
child pytest. Tests of the file as handed out must skip there, saying why (conftest.py), never fail.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, solved_startup

INSIDE_A_COPY = "COURSEKIT_STUDENT_CHECKOUT_COPY"  # set in the child: its copy of this test does not copy again
THIS_FILE = "test_student_checkout.py"
# Slow runs of the solution tree only: they never read startup/model.py (their files are still run, all else in them).
SOLUTION_ONLY = "not test_default_run_reaches_the_accuracy_bar and not test_ctrl_c_keeps_the_last_epoch"
SUITE_TIMEOUT = 1200


def files_that_touch_the_startup_tree():
    """The test files that mention the startup tree (its path, the fixture `startup`, the tool that writes it)."""
    return sorted(path.name for path in (REPO / "tests").glob("test_*.py")
                  if path.name != THIS_FILE and re.search(r"startup", path.read_text(encoding="utf-8"), re.IGNORECASE))


def students_checkout(folder, tasks_done, encoding="utf-8"):
    """A copy of the repository in folder whose startup/model.py has the tasks numbered in tasks_done written, saved
    in `encoding` (gbk: with a comment in Chinese, as an editor under a Chinese Windows locale may save it)."""
    copy = folder / "kit"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", "model", "__pycache__", ".pytest_cache", "*.pyc",
                                                              "*.gz", "*-ubyte"))
    shared = REPO.parent / "shared"
    if shared.is_dir():  # the real MNIST beside the copy too, as on the course's machines: its tests run as well
        (folder / "shared").symlink_to(shared, target_is_directory=True)
    (copy / "chapter03" / "startup" / "model.py").write_bytes(students_text(tasks_done, encoding))
    return copy


def students_text(tasks_done, encoding):
    chinese = "" if encoding == "utf-8" else "  # 数值计算"
    return solved_startup(tasks_done).replace("import numpy as np", "import numpy as np" + chinese, 1).encode(encoding)


def test_the_files_that_touch_the_startup_tree_are_found():
    found = files_that_touch_the_startup_tree()
    assert {"test_checks.py", "test_docs.py", "test_grade.py", "test_main.py", "test_make_startup.py"} <= set(found)


@pytest.mark.skipif(bool(os.environ.get(INSIDE_A_COPY)), reason="already inside a student's checkout copy")
@pytest.mark.parametrize("tasks_done, encoding", [({1, 2}, "utf-8"), ({1, 2, 3, 4}, "utf-8"), ({1, 2, 3, 4}, "gbk")],
                         ids=["half-written", "finished", "finished-saved-as-gbk"])
def test_the_suite_passes_on_a_students_checkout(tmp_path, tasks_done, encoding):
    copy = students_checkout(tmp_path, tasks_done, encoding)
    files = [f"tests/{name}" for name in files_that_touch_the_startup_tree()]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SOLUTION_ONLY,
                             *files], cwd=copy, capture_output=True, text=True, timeout=SUITE_TIMEOUT,
                            env={**os.environ, INSIDE_A_COPY: "1"}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "startup/model.py holds your work" in result.stdout  # the skips say why (pytest -ra lists them)
    assert (copy / "chapter03" / "startup" / "model.py").read_bytes() == students_text(tasks_done, encoding)


@pytest.mark.skipif(bool(os.environ.get(INSIDE_A_COPY)), reason="already inside a student's checkout copy")
def test_a_model_py_saved_as_gbk_that_python_cannot_read_stops_the_suite_with_what_to_do(tmp_path):
    copy = students_checkout(tmp_path, {1, 2, 3, 4})
    startup = copy / "chapter03" / "startup" / "model.py"
    text = startup.read_text(encoding="utf-8").replace("import numpy as np", 'import numpy as np\nNAME = "感知机"', 1)
    startup.write_bytes(text.encode("gbk"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_train.py"],
                            cwd=copy, capture_output=True, text=True, encoding="utf-8", errors="replace",
                            timeout=SUITE_TIMEOUT, env={**os.environ, INSIDE_A_COPY: "1"}, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "UnicodeDecodeError" not in output and "Traceback" not in output, output
    assert "model.py is not saved as UTF-8" in output and "save it as UTF-8" in output and "另存为 UTF-8" in output
