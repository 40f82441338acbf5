"""tools/make_startup.py: the startup file is the solution with each solution region replaced by its hint and a stub,
and --check catches any drift between the two files."""

import difflib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SOLUTION_MODEL, STARTUP_MODEL
from coursekit.startup import MarkerError, make_startup
from coursekit.tasks import Task

TOOL = REPO / "tools" / "make_startup.py"
STUB = re.compile(r'raise NotImplementedError\("Task (\d): (\w+)\.(\w+), see chapter03/README.md section (\d)"\)')
EXPECTED_STUBS = [(task, cls, method) for task, cls in enumerate(["Linear", "Sigmoid", "Softmax", "CrossEntropyLoss"],
                                                                 start=1) for method in ("forward", "backward")]


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def copies(tmp_path):
    """Copies of the two committed model files, to edit: (solution, startup)."""
    solution, startup = tmp_path / "solution.py", tmp_path / "startup.py"
    shutil.copyfile(SOLUTION_MODEL, solution)
    shutil.copyfile(STARTUP_MODEL, startup)
    return solution, startup


def check(solution, startup):
    return run_tool("--check", "--solution", solution, "--startup", startup)


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_committed_startup_file_is_up_to_date():
    result = run_tool("--check")
    assert result.returncode == 0, result.stderr


def test_check_passes_on_unchanged_copies(copies):
    assert check(*copies).returncode == 0


@pytest.mark.parametrize("which, old, new", [
    ("startup", 'raise NotImplementedError("Task 3: Softmax.forward', 'return x\n        raise NotImplementedError('
                                                                     '"Task 3: Softmax.forward'),
    ("startup", "# Hint: grad_input (N, D) is grad_output times", "# Hint: grad_input (N, D) is grad_output by"),
    ("startup", "class MLP(Module):", "class MLP(Module):  # edited"),
    ("solution", '"""Softmax over the last axis', '"""The softmax over the last axis'),
    ("solution", "# Hint: grad_input (N, D) is grad_output times", "# Hint: grad_input (N, D) is grad_output by"),
    ("solution", "    eps = 1e-12", "    eps = 1e-7"),
])
def test_check_fails_after_a_hand_edit(copies, which, old, new):
    solution, startup = copies
    edit(solution if which == "solution" else startup, old, new)
    result = check(solution, startup)
    assert result.returncode == 1
    assert "out of date" in result.stderr and "python tools/make_startup.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_fails_when_the_startup_file_is_missing(copies):
    solution, startup = copies
    startup.unlink()
    result = check(solution, startup)
    assert result.returncode == 1 and "missing" in result.stderr


def test_regenerating_writes_exactly_the_committed_file(copies):
    solution, startup = copies
    startup.write_text("stale\n", encoding="utf-8")
    result = run_tool("--solution", solution, "--startup", startup)
    assert result.returncode == 0, result.stderr
    assert startup.read_bytes() == STARTUP_MODEL.read_bytes().replace(b"\r\n", b"\n")
    assert check(solution, startup).returncode == 0


def test_the_startup_file_has_eight_stubs_and_no_markers():
    text = STARTUP_MODEL.read_text(encoding="utf-8")
    assert "SOLUTION" not in text
    stubs = STUB.findall(text)
    assert [(int(task), cls, method) for task, cls, method, _ in stubs] == EXPECTED_STUBS
    assert all(task == section for task, _, _, section in stubs)
    assert text.count("NotImplementedError") == 8


def test_each_stub_follows_its_hint():
    lines = STARTUP_MODEL.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if STUB.search(line):
            above = lines[number - 1].strip()
            assert above.startswith("#"), f"line {number + 1}: no hint above the stub"


def region_lines(solution_lines):
    """Indexes of the lines of solution regions, markers included."""
    inside, indexes = False, set()
    for index, line in enumerate(solution_lines):
        if line.strip().startswith("# BEGIN SOLUTION"):
            inside = True
        if inside:
            indexes.add(index)
        if line.strip() == "# END SOLUTION":
            inside = False
    return indexes


def test_the_diff_touches_only_the_solution_regions():
    solution = SOLUTION_MODEL.read_text(encoding="utf-8").splitlines()
    startup = STARTUP_MODEL.read_text(encoding="utf-8").splitlines()
    regions = region_lines(solution)
    matcher = difflib.SequenceMatcher(a=solution, b=startup, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert set(range(a_start, a_end)) <= regions, solution[a_start:a_end]
        assert all(STUB.search(line) for line in startup[b_start:b_end]), startup[b_start:b_end]


REGION = '''class Layer:
    def forward(self, x):
        # BEGIN SOLUTION Task 1
        # Hint: compute y.
        #   y has the shape of x.
        return x
        # END SOLUTION
'''


LAYER_TASKS = [Task(1, "Layer", ("forward",), section=1, points=100, handout="chapter03/README.md")]


def test_a_region_becomes_its_hint_and_a_stub():
    assert make_startup(REGION, LAYER_TASKS) == '''class Layer:
    def forward(self, x):
        # Hint: compute y.
        #   y has the shape of x.
        raise NotImplementedError("Task 1: Layer.forward, see chapter03/README.md section 1")
'''


@pytest.mark.parametrize("broken, message", [
    (REGION.replace("        # END SOLUTION\n", ""), "never closed"),
    (REGION.replace("        # BEGIN SOLUTION Task 1\n", ""), "END SOLUTION without a BEGIN"),
    (REGION.replace("return x\n", "return x\n        # BEGIN SOLUTION Task 1\n"), "inside the region opened at line 3"),
    (REGION.replace("# BEGIN SOLUTION Task 1", "# BEGIN SOLUTION"), "must read exactly"),
    (REGION.replace("# BEGIN SOLUTION Task 1", "# begin solution task 1"), "must read exactly"),
    (REGION.replace("# Hint: compute y.\n        #   y has the shape of x.\n", ""), "must start with its hint"),
    ("def f():\n    return 1\n", "no solution regions"),
], ids=["no END", "no BEGIN", "nested", "no task", "misspelled", "no hint", "no regions"])
def test_malformed_markers_are_refused(broken, message):
    with pytest.raises(MarkerError, match=message):
        make_startup(broken, LAYER_TASKS)


def test_the_tool_refuses_unbalanced_markers_and_writes_nothing(copies):
    solution, startup = copies
    edit(solution, "        return self.y\n        # END SOLUTION\n\n    def backward(self, grad_output):\n"
                   '        """grad_output (N, D)', '        return self.y\n\n    def backward(self, grad_output):\n'
                                                  '        """grad_output (N, D)')
    before = startup.read_bytes()
    result = run_tool("--solution", solution, "--startup", startup)
    assert result.returncode == 1
    assert "BEGIN SOLUTION" in result.stderr and "Nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert startup.read_bytes() == before
