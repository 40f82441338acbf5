"""chapter03/grade.py: points from the task table, each submission in a sandbox, Gradescope JSON, CSV, --jobs.

The grader runs from a copy of the kit (tests/submissions.py says why). Most tests share one batch, graded with
--jobs 2; cheating submissions have their own suite (test_grade_cheats.py), the Gradescope zip too
(test_autograder.py).
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from submissions import (
    CLASSES,
    SOLUTION,
    STARTUP,
    as_on_windows,
    check_columns,
    copy_kit,
    edited,
    partial,
    points_per_class,
    read_csv,
    run_grade,
    sandbox_processes,
    write_submission,
)

from coursekit.grading.results import MAX_RESULTS, MAX_TEST_OUTPUT

pytestmark = pytest.mark.requires("sandbox")

# name -> text of a model.py: common mistakes and misbehaving submissions
SUBMISSIONS = {
    "bias_grad_averaged": edited(SOLUTION, ("grad_output.sum(axis=0, keepdims=True)",
                                            "grad_output.mean(axis=0, keepdims=True)")),
    "softmax_backward_diagonal": edited(SOLUTION, (
        "return self.y * (grad_output - (grad_output * self.y).sum(axis=-1, keepdims=True))",
        "return grad_output * self.y * (1 - self.y)")),
    "loss_without_1_over_n": edited(SOLUTION, ("return float(-np.sum(targets * np.log(self.probs)) / len(probs))",
                                               "return float(-np.sum(targets * np.log(self.probs)))")),
    "syntax_error": edited(SOLUTION, ("    def forward(self, x):", "    def forward(self, x)")),
    "prints_1_MB": edited(SOLUTION, ("import numpy as np\n", "import numpy as np\n\nprint('x' * 1_000_000)\n")),
    "sys_exit_at_import": edited(SOLUTION, ("import numpy as np\n",
                                            "import sys\n\nimport numpy as np\n\nsys.exit(0)\n")),
    "os_exit_in_softmax_forward": edited(SOLUTION, ("        exps = np.exp(",
                                                    "        import os\n        os._exit(3)\n        exps = np.exp(")),
    "edited_mlp": edited(SOLUTION, ("        for layer in reversed(self.layers):",
                                    "        for layer in self.layers[:0]:")),  # no backward through the layers
    "only_linear": partial(1),
    "linear_and_sigmoid": partial(1, 2),
    "all_but_the_loss": partial(1, 2, 3),
    # Right shapes and dtypes, no computation: worth nothing (the shape checks carry no points of their own).
    "right_shaped_zeros": edited(
        STARTUP,
        *((f'raise NotImplementedError("Task {task}: {method}, see chapter03/README.md section {task}")', code)
          for task, method, code in [
              (1, "Linear.forward", "return np.zeros((len(x), self.W.data.shape[1]), x.dtype)"),
              (1, "Linear.backward", "self.W.grad = np.zeros_like(self.W.data)\n        "
                                     "self.b.grad = np.zeros_like(self.b.data)\n        "
                                     "return np.zeros((len(grad_output), self.W.data.shape[0]), grad_output.dtype)"),
              (2, "Sigmoid.forward", "return np.zeros_like(x)"),
              (2, "Sigmoid.backward", "return np.zeros_like(grad_output)"),
              (3, "Softmax.forward", "return np.zeros_like(x)"),
              (3, "Softmax.backward", "return np.zeros_like(grad_output)"),
              (4, "CrossEntropyLoss.forward", "self.probs = probs\n        return 0.0"),
              (4, "CrossEntropyLoss.backward", "return np.zeros_like(self.probs)")])),
    "empty_file": "",
    "no_module_classes": "import numpy as np\n\n\ndef forward(x):\n    return x\n",
}
BINARY = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256))


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return copy_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def batch(kit, tmp_path_factory):
    """One grade.py call, two at a time: the solution, the startup file, every submission above, an upload that
    kept its folders, a binary file, and a folder without model.py."""
    folder = tmp_path_factory.mktemp("submissions")
    paths = {"solution": write_submission(folder, "solution", SOLUTION),
             "startup": write_submission(folder, "startup", STARTUP)}
    paths.update({name: write_submission(folder, name, text) for name, text in SUBMISSIONS.items()})
    nested = folder / "upload"
    (nested / "kept" / "folders").mkdir(parents=True)
    (nested / "kept" / "folders" / "model.py").write_text(SOLUTION, encoding="utf-8")
    (folder / "binary").mkdir()
    (folder / "binary" / "model.py").write_bytes(BINARY)
    (folder / "empty").mkdir()
    paths.update(nested=nested, binary=folder / "binary", empty=folder / "empty")
    started = time.monotonic()
    result = run_grade(kit, *paths.values(), "--jobs", "2", "--csv", folder / "grades.csv", cwd=folder)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    rows = read_csv(folder / "grades.csv")
    return result.stdout, {name: rows[str(path)] for name, path in paths.items()}, len(rows), seconds


def test_csv_has_a_row_per_submission_with_student_total_time_and_checks(batch):
    _, rows, count, _ = batch
    assert count == len(rows) == 2 + len(SUBMISSIONS) + 3
    for row in rows.values():
        assert int(row["total"]) == sum(int(row[check]) for check in check_columns(row))
        assert float(row["seconds"]) >= 0
        assert row["student"] == Path(row["path"]).name  # the folder's name
    assert set(points_per_class(rows["solution"])) == set(CLASSES)


def test_points_come_from_the_task_table(batch):
    _, rows, _, _ = batch
    assert points_per_class(rows["solution"]) == {"Linear": 26, "ReLU": 0, "Sigmoid": 20, "Softmax": 22,
                                                  "CrossEntropyLoss": 22, "MLP": 10}
    assert rows["startup"]["total"] == "0"


def test_solution_gets_full_marks_and_startup_zero(batch):
    stdout, rows, _, _ = batch
    assert rows["solution"]["total"] == "100" and rows["startup"]["total"] == "0"
    assert "100/100" in stdout


def test_honest_partial_work_keeps_its_points(batch):
    _, rows, _, _ = batch
    assert rows["only_linear"]["total"] == "26"
    assert rows["linear_and_sigmoid"]["total"] == "46"
    assert rows["all_but_the_loss"]["total"] == "68"  # and MLP, which needs the loss, 0


def test_right_shaped_zeros_earn_nothing(batch):
    _, rows, _, _ = batch
    assert rows["right_shaped_zeros"]["total"] == "0"


@pytest.mark.parametrize("mutant, broken", [
    ("bias_grad_averaged", "Linear"),
    ("softmax_backward_diagonal", "Softmax"),
    ("loss_without_1_over_n", "CrossEntropyLoss"),
])
def test_a_mistake_costs_only_the_points_of_the_checks_it_breaks(batch, mutant, broken):
    _, rows, _, _ = batch
    full, got = points_per_class(rows["solution"]), points_per_class(rows[mutant])
    assert 0 < int(rows[mutant]["total"]) < 100
    assert 0 < got[broken] < full[broken], "the checks the mistake does not touch keep their points"
    for cls in CLASSES:
        if cls not in (broken, "MLP"):  # the MLP is built from the broken layer
            assert got[cls] == full[cls], cls


@pytest.mark.parametrize("name, problem", [
    ("syntax_error", "model.py has a syntax error, line"),
    ("sys_exit_at_import", "model.py called sys.exit(0), while being imported"),
    ("empty_file", "model.py is empty"),
    ("no_module_classes", "model.py defines no Parameter and no Module"),
    ("binary", "model.py is not a text file"),
    ("empty", "no model.py in"),
])
def test_a_file_that_cannot_be_graded_gets_zero_and_one_diagnosis(batch, name, problem):
    stdout, rows, _, _ = batch
    assert rows[name]["total"] == "0"
    assert problem in rows[name]["problems"] and problem in stdout
    assert "None" not in rows[name]["problems"]


def test_printing_a_lot_changes_nothing(batch):
    stdout, rows, _, _ = batch
    assert rows["prints_1_MB"]["total"] == "100"
    assert "xxxxxxxxxx" not in stdout


def test_exiting_the_interpreter_costs_what_it_breaks(batch):
    _, rows, _, _ = batch
    row, full = rows["os_exit_in_softmax_forward"], points_per_class(rows["solution"])
    got = points_per_class(row)
    assert got["Softmax"] == got["MLP"] == 0
    assert all(got[cls] == full[cls] for cls in ("Linear", "Sigmoid", "CrossEntropyLoss"))
    assert "exit status 3 during the Softmax checks" in row["problems"]


def test_an_edited_mlp_is_replaced_by_the_reference(batch):
    _, rows, _, _ = batch
    assert rows["edited_mlp"]["total"] == "100"


def test_a_folder_is_searched_for_its_model_py(batch):
    _, rows, _, _ = batch
    assert rows["nested"]["total"] == "100"


def test_nothing_of_the_submissions_is_left_running(batch):
    assert sandbox_processes() == []


def test_an_endless_loop_is_stopped_and_the_batch_goes_on(kit, tmp_path):
    hang = write_submission(tmp_path, "hang", edited(SOLUTION, ("        self.y = 0.5 * (1.0 + np.tanh(0.5 * x))",
                                                                "        while True:\n            pass")))
    solution = write_submission(tmp_path, "solution", SOLUTION)
    started = time.monotonic()
    result = run_grade(kit, hang, solution, "--timeout", 2, "--csv", tmp_path / "grades.csv", cwd=tmp_path)
    assert time.monotonic() - started < 120
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "grades.csv")
    got, full = points_per_class(rows[str(hang)]), points_per_class(rows[str(solution)])
    assert rows[str(solution)]["total"] == "100"
    assert got["Sigmoid"] == got["MLP"] == 0, "what did not finish gets 0"
    assert all(got[cls] == full[cls] for cls in ("Linear", "Softmax", "CrossEntropyLoss")), "what finished counts"
    assert "stopped after 2 s during the Sigmoid checks" in rows[str(hang)]["problems"]
    assert "Summary of 2 submissions" in result.stdout


@pytest.mark.parametrize("visibility", ["visible", "after_published"])
def test_json_is_gradescope_results(kit, tmp_path, visibility):
    mutant = write_submission(tmp_path, "mutant", SUBMISSIONS["softmax_backward_diagonal"])
    result = run_grade(kit, mutant, "--json", tmp_path / "results.json", "--visibility", visibility, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert isinstance(results["score"], int) and 0 < results["score"] < 100
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    assert sum(test["max_score"] for test in results["tests"]) == 100
    assert results["visibility"] == visibility
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility", "status"}
        assert test["status"] == ("passed" if test["output"].startswith("pass") else "failed")
        assert test["visibility"] == visibility and 0 <= test["score"] <= test["max_score"]
        assert len(test["output"]) <= MAX_TEST_OUTPUT
        assert any(cls in test["name"] for cls in CLASSES)
    softmax = [test for test in results["tests"] if "Softmax" in test["name"]]
    assert any(test["status"] == "failed" and "FAIL" in test["output"] for test in softmax)
    assert list(tmp_path.glob("*.tmp*")) == []


def test_json_stays_small_whatever_the_submission_says(kit, tmp_path):
    loud = write_submission(tmp_path, "loud", edited(STARTUP, (
        'raise NotImplementedError("Task 1: Linear.forward, see chapter03/README.md section 1")',
        'raise ValueError("y" * 10_000_000)')))
    result = run_grade(kit, loud, "--json", tmp_path / "results.json", "--lang", "zh", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results.json").stat().st_size < MAX_RESULTS
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["score"] == 0


def test_json_of_a_submission_that_does_not_import(kit, tmp_path):
    broken = write_submission(tmp_path, "broken", SUBMISSIONS["syntax_error"])
    result = run_grade(kit, broken / "model.py", "--json", tmp_path / "out" / "results.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 0 and "syntax error" in results["output"]
    assert all(test["score"] == 0 and "syntax error" in test["output"] for test in results["tests"])


def test_a_closed_stdout_does_not_lose_the_csv(kit, tmp_path):
    solution = write_submission(tmp_path, "solution", SOLUTION)
    startup = write_submission(tmp_path, "startup", STARTUP)
    process = subprocess.Popen([sys.executable, str(kit), solution, startup, "--csv", tmp_path / "grades.csv"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    process.stdout.readline()
    process.stdout.close()  # as `grade.py ... | head -1` does
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr
    assert read_csv(tmp_path / "grades.csv")[str(solution)]["total"] == "100"


def test_a_submission_graded_twice_gets_the_same_grade_from_other_inputs(kit, tmp_path):
    solution = write_submission(tmp_path, "solution", SOLUTION)
    mutant = write_submission(tmp_path, "mutant", SUBMISSIONS["bias_grad_averaged"])
    totals = []
    for run in range(2):
        result = run_grade(kit, solution, mutant, "--csv", tmp_path / f"grades{run}.csv", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        rows = read_csv(tmp_path / f"grades{run}.csv")
        totals.append((rows[str(solution)]["total"], rows[str(mutant)]["total"]))
    assert totals[0] == totals[1] and totals[0][0] == "100"


@pytest.mark.parametrize("args, status", [
    (["no/such/model.py"], 1),
    (["SOLUTION", "SOLUTION2", "--json", "results.json"], 2),
    (["SOLUTION", "--timeout", "0"], 2),
    (["SOLUTION", "--jobs", "0"], 2),
    (["SOLUTION", "--visibility", "sometimes"], 2),
    (["SOLUTION", "--jsn", "results.json"], 2),
])
def test_exit_status_when_it_cannot_grade(kit, tmp_path, args, status):
    shutil.copy(kit.parent / "solution" / "model.py", tmp_path / "model.py")
    args = [{"SOLUTION": tmp_path / "model.py", "SOLUTION2": tmp_path / "model.py"}.get(arg, arg) for arg in args]
    result = run_grade(kit, *args, cwd=tmp_path)
    assert result.returncode == status
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results.json").exists()


def test_help_says_what_is_and_is_not_guaranteed(kit, tmp_path):
    result = run_grade(kit, "--help", cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Run as root" in text and "unprivileged user of its own" in text
    assert "Not as root (macOS, Windows, Linux) it runs as you" in text and "can read and write every file you" in text


@pytest.mark.requires("root")
def test_as_root_a_python_the_sandbox_users_cannot_run_stops_grading_with_what_to_do(kit, tmp_path):
    private = tmp_path / "private"  # as /root is: others may not even traverse it
    private.mkdir(mode=0o700)
    executable = Path(sys.executable)
    (private / "python").symlink_to(executable.parent.parent)  # the whole installation (or venv), so it runs
    solution = write_submission(tmp_path, "solution", SOLUTION)
    python = private / "python" / executable.parent.name / executable.name
    result = subprocess.run([str(python), str(kit), solution, "--csv", tmp_path / "grades.csv"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 1
    assert "who cannot run this Python" in result.stderr and "other users cannot enter" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "grades.csv").exists()


def test_protect_takes_other_users_permissions_away_and_never_from_a_shared_folder(tmp_path):
    from coursekit.errors import KitError
    from coursekit.grading.command_line import protect

    kit, submitted = tmp_path / "kit", tmp_path / "model.py"
    kit.mkdir(mode=0o755)
    submitted.write_text("x")
    submitted.chmod(0o644)
    lines = protect([kit, submitted, tmp_path / "results"])
    assert kit.stat().st_mode & 0o777 == 0o750 and submitted.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "results").is_dir() and "drwxr-xr-x -> drwxr-x---" in lines[0]
    assert protect([kit, submitted]) == [], "nothing left to change, nothing said"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(KitError, match="every user shares"):
        protect([shared])


def grade_solution_and_startup(tmp_path, run):
    """(the CompletedProcess, {solution, startup: total}) of grading the two with `run(*args)`."""
    solution, startup = write_submission(tmp_path, "solution", SOLUTION), write_submission(tmp_path, "startup", STARTUP)
    result = run(solution, startup, "--jobs", "2", "--csv", tmp_path / "grades.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_csv(tmp_path / "grades.csv")
    return result, {"solution": rows[str(solution)]["total"], "startup": rows[str(startup)]["total"]}


@pytest.mark.requires("posix")  # it simulates Windows on a POSIX machine
def test_with_windows_simulated_the_solution_gets_100_and_the_startup_0(kit, tmp_path):
    result, totals = grade_solution_and_startup(
        tmp_path, lambda *args: as_on_windows(kit.parent.parent, kit, *args, cwd=tmp_path))
    assert totals == {"solution": "100", "startup": "0"}
    first = result.stdout.splitlines()[0]
    assert "runs in a process of its own, as you" in first and "a time limit only" in first


REFUSE_AS = """#!{python}
# Python, as on macOS: lowering RLIMIT_AS is refused. Run as `python -I -B -c CODE ARGS...` is.
import resource
import sys

lower = resource.setrlimit


def setrlimit(which, limits):
    if which == resource.RLIMIT_AS:
        raise ValueError("current limit exceeds maximum limit")
    lower(which, limits)


resource.setrlimit = setrlimit
index = sys.argv.index("-c")
code = sys.argv[index + 1]
sys.argv = ["-c", *sys.argv[index + 2:]]
exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
"""


@pytest.mark.requires("posix")
def test_with_rlimit_as_refused_as_on_macos_it_still_grades(kit, tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="refuse-as-"))  # the sandbox users run it: not below pytest's 0700 folder
    try:
        folder.chmod(0o755)
        python = folder / "python"
        python.write_text(REFUSE_AS.replace("{python}", sys.executable), encoding="utf-8")
        python.chmod(0o755)
        launch = (f"import runpy, sys\nsys.executable = {str(python)!r}\n"
                  "runpy.run_path(sys.argv[1], run_name='__main__')")
        result, totals = grade_solution_and_startup(tmp_path, lambda *args: subprocess.run(
            [sys.executable, "-c", launch, kit, *map(str, args)], capture_output=True, text=True, cwd=tmp_path,
            timeout=900))
    finally:
        shutil.rmtree(folder)
    assert totals == {"solution": "100", "startup": "0"}
    first = result.stdout.splitlines()[0]
    assert "CPU time" in first and "memory" not in first
