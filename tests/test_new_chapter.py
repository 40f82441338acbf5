"""The kit's machinery serves any chapter: a toy chapter built here from coursekit alone, and a layer added to a copy
of chapter 3 by touching only the solution, the task table, the checks and the handout."""

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO
from coursekit.layer_checks import elementwise_checks
from coursekit.report import format_report, run_checks
from coursekit.startup import make_startup
from coursekit.student_code import load_model_module
from coursekit.tasks import Task, check_points

TOY_SOLUTION = '''\
import numpy as np


class Module:
    def __call__(self, *args):
        return self.forward(*args)


class Tanh(Module):
    """y = tanh(x), element-wise."""

    def forward(self, x):
        # BEGIN SOLUTION Task 1
        # Hint: keep y for backward.
        self.y = np.tanh(x)
        return self.y
        # END SOLUTION

    def backward(self, grad_output):
        # BEGIN SOLUTION Task 1
        # Hint: dy/dx = 1 - y**2.
        return grad_output * (1.0 - self.y**2)
        # END SOLUTION
'''
TOY_TASKS = [Task(1, "Tanh", ("forward", "backward"), section=1, points=100, handout="toy/README.md")]
TOY_CHECKS = elementwise_checks(TOY_TASKS[0], np.tanh)


def test_a_toy_chapter_gets_stubs_checks_report_and_points(tmp_path):
    solution = tmp_path / "solution" / "model.py"
    startup = tmp_path / "startup" / "model.py"
    solution.parent.mkdir()
    startup.parent.mkdir()
    solution.write_text(TOY_SOLUTION, encoding="utf-8")
    startup.write_text(make_startup(TOY_SOLUTION, TOY_TASKS), encoding="utf-8")
    assert 'raise NotImplementedError("Task 1: Tanh.forward, see toy/README.md section 1")' in startup.read_text()

    results = run_checks(load_model_module(solution), solution, TOY_CHECKS, TOY_TASKS)
    assert [r.status for r in results] == ["pass"] * 4
    results = run_checks(load_model_module(startup), startup, TOY_CHECKS, TOY_TASKS)
    assert {r.status for r in results} <= {"TODO", "not run"}
    report = format_report(results, TOY_TASKS)
    assert "Task 1: Tanh.forward, see toy/README.md section 1" in report
    assert report.splitlines()[-1] == "0/4 checks passed"

    assert sum(check_points(TOY_TASKS, TOY_CHECKS).values()) == 100


TOY_TABLE = '''
from coursekit.tasks import Task

TASKS = [Task(1, "Tanh", ("forward", "backward"), section=1, points=100, handout="toy/README.md")]
'''
TOY_CHECK_DEFINITIONS = '''
import numpy as np

from coursekit.layer_checks import elementwise_checks

from .tasks import TASKS

CHECKS = elementwise_checks(TASKS[0], np.tanh)
'''
TOY_GRADER = '''
import sys
from pathlib import Path

CHAPTER = Path(__file__).resolve().parent
sys.path.insert(0, str(CHAPTER.parent))

from coursekit.grading import Assignment, main  # noqa: E402
from toy.common.checks import CHECKS  # noqa: E402
from toy.common.tasks import TASKS  # noqa: E402

ASSIGNMENT = Assignment(tasks=TASKS, checks=CHECKS, solution=CHAPTER / "solution" / "model.py", required=("Module",))
sys.exit(main(ASSIGNMENT, prog="python toy/grade.py"))
'''


@pytest.mark.requires("sandbox")
def test_a_toy_chapter_made_of_files_is_generated_and_graded(tmp_path):
    """The same chapter as files beside a copy of coursekit (only coursekit: a grader as root protects the folder
    it grades from, and that must not be this checkout)."""
    shutil.copytree(REPO / "coursekit", tmp_path / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    toy = tmp_path / "toy"
    for folder in ("solution", "startup", "common"):
        (toy / folder).mkdir(parents=True)
    (toy / "solution" / "model.py").write_text(TOY_SOLUTION, encoding="utf-8")
    (toy / "common" / "__init__.py").write_text("", encoding="utf-8")
    (toy / "common" / "tasks.py").write_text(TOY_TABLE, encoding="utf-8")
    (toy / "common" / "checks.py").write_text(TOY_CHECK_DEFINITIONS, encoding="utf-8")
    (toy / "grade.py").write_text(TOY_GRADER, encoding="utf-8")

    generated = run(tmp_path, REPO / "tools" / "make_startup.py", "--chapter", toy)
    assert generated.returncode == 0, generated.stderr
    assert "Task 1: Tanh.backward, see toy/README.md section 1" in (toy / "startup" / "model.py").read_text()
    for tree, total in (("solution", "100/100"), ("startup", "0/100")):
        graded = run(tmp_path, toy / "grade.py", toy / tree / "model.py")
        assert graded.returncode == 0, graded.stderr
        assert "Tanh.backward dx" in graded.stdout and total in graded.stdout, graded.stdout


LEAKY_RELU = '''
class LeakyReLU(Module):
    """y = x where x > 0, else slope * x."""

    slope = 0.01

    def forward(self, x):
        """x (N, D) -> y (N, D)."""
        # BEGIN SOLUTION Task 5
        # Hint: keep where x > 0: backward needs it.
        self.positive = x > 0
        return np.where(self.positive, x, self.slope * x)
        # END SOLUTION

    def backward(self, grad_output):
        """grad_output (N, D) -> grad_input (N, D)."""
        # BEGIN SOLUTION Task 5
        # Hint: the gradient goes through where x > 0, times the slope elsewhere.
        return np.where(self.positive, grad_output, self.slope * grad_output)
        # END SOLUTION


class MLP(Module):'''

LEAKY_RELU_ROW = '''    Task(5, "LeakyReLU", FORWARD_BACKWARD, section=5, points=10, handout=HANDOUT),
]'''

LEAKY_RELU_CHECKS = '''
CHECKS[-1:-1] = elementwise_checks(TASK["LeakyReLU"], lambda x: np.where(x > 0, x, 0.01 * x))
'''


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run(copy, *command, timeout=300):
    return subprocess.run([sys.executable, *map(str, command)], cwd=copy, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.requires("sandbox")
def test_adding_a_layer_touches_the_solution_the_table_its_checks_and_the_handout_only(tmp_path):
    copy = tmp_path / "kit"
    ignore = shutil.ignore_patterns(".git", "data", "model", "__pycache__", ".pytest_cache", "*.pyc")
    shutil.copytree(REPO, copy, ignore=ignore)
    chapter = copy / "chapter03"
    edit(chapter / "solution" / "model.py", "\nclass MLP(Module):", textwrap.dedent(LEAKY_RELU))
    edit(chapter / "common" / "tasks.py", "\n]", "\n" + LEAKY_RELU_ROW)
    with open(chapter / "common" / "checks.py", "a", encoding="utf-8") as checks:
        checks.write(LEAKY_RELU_CHECKS)
    for handout in ("README.md", "README.en.md"):
        with open(chapter / handout, "a", encoding="utf-8") as text:
            text.write("\n## 5. LeakyReLU\n\ny = x where x > 0, else 0.01 x.\n")

    # --force: on a student's checkout the copied startup file holds their work (a copy of it is kept aside).
    assert run(copy, "tools/make_startup.py", "--force").returncode == 0
    assert run(copy, "tools/handout_examples.py").returncode == 0  # the handout's quoted reports name the new task
    startup = (chapter / "startup" / "model.py").read_text(encoding="utf-8")
    assert 'raise NotImplementedError("Task 5: LeakyReLU.backward, see chapter03/README.md section 5")' in startup

    # The points now add up to 110: the grader says so and refuses to grade.
    graded = run(copy, "chapter03/grade.py", "chapter03/solution/model.py")
    assert graded.returncode == 1 and "110" in graded.stderr, graded.stderr
    edit(chapter / "common" / "tasks.py", "points=26", "points=16")

    graded = run(copy, "chapter03/grade.py", "chapter03/solution/model.py")
    assert graded.returncode == 0, graded.stderr
    assert "LeakyReLU.backward dx" in graded.stdout and "100/100" in graded.stdout
    checked = run(copy, "chapter03/startup/main.py", "--checks_only")
    assert checked.returncode == 1 and "Task 5: LeakyReLU.forward" in checked.stdout
    assert run(copy, "chapter03/solution/main.py", "--checks_only").returncode == 0

    # The suite's counts come from the table: the tests of stubs, checks and documents pass on the copy.
    suite = run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_checks.py",
                "tests/test_make_startup.py", "tests/test_docs.py")
    assert suite.returncode == 0, suite.stdout[-3000:]
