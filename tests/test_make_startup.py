"""tools/make_startup.py: the startup file is the solution with each solution region replaced by its hint and a stub;
--check catches any drift between the two; a startup file holding a student's code is never overwritten.

Everything here works on copies and on the generated text, never on chapter03/startup/model.py itself: on a
student's checkout that file holds their work. The drift check of the real files runs in .ci/run.
"""

import difflib
import re
import shutil
import subprocess
import sys

import pytest

from chapter03.common.tasks import TASKS
from conftest import REPO, SOLUTION_MODEL, handed_out_text, solved_startup
from coursekit.startup import MarkerError, make_startup
from coursekit.tasks import Task, stubs

TOOL = REPO / "tools" / "make_startup.py"
sys.path.insert(0, str(REPO / "tools"))
import make_startup as tool  # noqa: E402

STUB = re.compile(r'raise NotImplementedError\("Task (\d+): (\w+)\.(\w+), see chapter03/README.md section (\d+)"\)')
# One stub per method of each task of the table (8 for chapter 3's four classes), in task order.
EXPECTED_STUBS = [(task.number, task.cls, method) for task, method in stubs(TASKS)]


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def copies(tmp_path):
    """A copy of the solution and the startup file generated from it, with its record: (solution, startup)."""
    solution, startup = tmp_path / "solution.py", tmp_path / "startup.py"
    shutil.copyfile(SOLUTION_MODEL, solution)
    result = run_tool("--solution", solution, "--startup", startup)
    assert result.returncode == 0, result.stderr
    return solution, startup


def check(solution, startup):
    return run_tool("--check", "--solution", solution, "--startup", startup)


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def backups(startup):
    return sorted(startup.parent.glob(f"{startup.name}.*.bak"))


def test_generating_writes_the_handed_out_text_and_its_record(copies):
    solution, startup = copies
    assert startup.read_text(encoding="utf-8") == handed_out_text()
    record = tool.record_path(startup)
    assert record.name == ".startup.py.sha256"
    assert record.read_text(encoding="utf-8") == f"{tool.digest(handed_out_text())}  startup.py\n"
    assert check(solution, startup).returncode == 0
    again = run_tool("--solution", solution, "--startup", startup)
    assert again.returncode == 0 and "nothing to write" in again.stdout


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
    assert "out of date" in result.stderr and "Traceback" not in result.stderr
    if which == "solution":
        assert "regenerate it with `python tools/make_startup.py`" in result.stderr
    else:
        assert "changed after it was generated" in result.stderr and "--force" in result.stderr


def test_check_fails_when_the_startup_file_or_its_record_is_missing(copies):
    solution, startup = copies
    tool.record_path(startup).unlink()
    result = check(solution, startup)
    assert result.returncode == 1 and "record" in result.stderr
    assert run_tool("--solution", solution, "--startup", startup).returncode == 0  # writes the record only
    assert check(solution, startup).returncode == 0
    startup.unlink()
    result = check(solution, startup)
    assert result.returncode == 1 and "missing" in result.stderr


def test_a_solution_change_regenerates_an_untouched_startup_file(copies):
    solution, startup = copies
    edit(solution, "# Hint: grad_input (N, D) is grad_output times", "# Hint: grad_input (N, D) is grad_output by")
    result = run_tool("--solution", solution, "--startup", startup)
    assert result.returncode == 0, result.stderr
    assert "# Hint: grad_input (N, D) is grad_output by" in startup.read_text(encoding="utf-8")
    assert check(solution, startup).returncode == 0
    assert backups(startup) == []


@pytest.mark.parametrize("done", [{1, 2}, {1, 2, 3, 4}], ids=["half-written", "finished"])
def test_a_startup_file_with_student_code_is_never_overwritten(copies, done):
    solution, startup = copies
    startup.write_text(solved_startup(done), encoding="utf-8")  # what a student's checkout holds
    before = startup.read_bytes()
    edit(solution, "    eps = 1e-12", "    eps = 1e-7")  # and the tool has something new to write
    result = run_tool("--solution", solution, "--startup", startup)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "was changed after it was generated" in result.stderr and "nothing was written" in result.stderr
    assert "you never need this tool, your file is untouched" in result.stderr
    assert startup.read_bytes() == before and backups(startup) == []


def test_force_keeps_a_copy_of_the_student_code_then_regenerates(copies):
    solution, startup = copies
    startup.write_text(solved_startup({1}), encoding="utf-8")
    before = startup.read_bytes()
    result = run_tool("--force", "--solution", solution, "--startup", startup)
    assert result.returncode == 0, result.stderr
    [backup] = backups(startup)
    assert backup.read_bytes() == before and str(backup.name) in result.stdout
    assert startup.read_text(encoding="utf-8") == handed_out_text()
    assert check(solution, startup).returncode == 0


def test_backups_never_overwrite_each_other(tmp_path, monkeypatch):
    monkeypatch.setattr(tool.time, "strftime", lambda pattern: "20260101-120000")  # two copies in the same second
    model = tmp_path / "model.py"
    names = []
    for version in (b"first", b"second"):
        model.write_bytes(version)
        names.append(tool.keep_backup(model).name)
    assert names == ["model.py.20260101-120000.bak", "model.py.20260101-120000-2.bak"]
    assert [(tmp_path / name).read_bytes() for name in names] == [b"first", b"second"]


def test_a_startup_file_without_a_record_is_not_overwritten(copies):
    solution, startup = copies
    tool.record_path(startup).unlink()
    startup.write_text("stale\n", encoding="utf-8")
    assert run_tool("--solution", solution, "--startup", startup).returncode == 1
    assert startup.read_text(encoding="utf-8") == "stale\n"


def test_the_handed_out_file_has_a_stub_per_method_of_each_task_and_no_markers():
    text = handed_out_text()
    assert "SOLUTION" not in text
    found = STUB.findall(text)
    assert [(int(task), cls, method) for task, cls, method, _ in found] == EXPECTED_STUBS
    assert all(task == section for task, _, _, section in found)
    assert text.count("NotImplementedError") == len(EXPECTED_STUBS)


def test_each_stub_follows_its_hint():
    lines = handed_out_text().splitlines()
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
    startup = handed_out_text().splitlines()
    regions = region_lines(solution)
    matcher = difflib.SequenceMatcher(a=solution, b=startup, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert set(range(a_start, a_end)) <= regions, solution[a_start:a_end]
        assert all(STUB.search(line) for line in startup[b_start:b_end]), startup[b_start:b_end]


def test_a_students_solved_file_is_the_solution_without_markers_and_hints():
    """The helper the student-checkout tests use writes what a student would: code where the stubs were."""
    finished = solved_startup({task.number for task, _ in stubs(TASKS)})
    assert "NotImplementedError" not in finished and "SOLUTION" not in finished
    assert solved_startup(set()) == handed_out_text()
    half = solved_startup({1, 2})
    assert half.count("raise NotImplementedError(") == len([number for number, _, _ in EXPECTED_STUBS if number > 2])
    assert "Task 1:" not in half and "Task 3:" in half


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
