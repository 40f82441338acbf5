"""chapter03/grade.py: points per check, one process per submission with a time limit, Gradescope JSON, CSV.

Each grade.py call starts one process per submission (each imports NumPy), so most tests share one batch call.
"""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from conftest import CHAPTER, SOLUTION_MODEL, STARTUP_MODEL

GRADE = CHAPTER / "grade.py"
CLASSES = ["Linear", "ReLU", "Sigmoid", "Softmax", "CrossEntropyLoss", "MLP"]
SOLUTION = SOLUTION_MODEL.read_text(encoding="utf-8")

# name -> (text of the solution, replacement): each a common mistake or a misbehaving submission.
SUBMISSIONS = {
    "bias_grad_averaged": ("grad_output.sum(axis=0, keepdims=True)", "grad_output.mean(axis=0, keepdims=True)"),
    "softmax_backward_diagonal": (
        "return self.y * (grad_output - (grad_output * self.y).sum(axis=-1, keepdims=True))",
        "return grad_output * self.y * (1 - self.y)"),
    "loss_without_1_over_n": ("return float(-np.sum(targets * np.log(self.probs)) / len(probs))",
                              "return float(-np.sum(targets * np.log(self.probs)))"),
    "syntax_error": ("    def forward(self, x):", "    def forward(self, x)"),
    "prints_1_MB": ("import numpy as np\n", "import numpy as np\n\nprint('x' * 1_000_000)\n"),
    "sys_exit_at_import": ("import numpy as np\n", "import sys\n\nimport numpy as np\n\nsys.exit(0)\n"),
    "os_exit_in_softmax_forward": ("        exps = np.exp(",
                                   "        import os\n        os._exit(3)\n        exps = np.exp("),
}
EDITED_MLP = ("        for layer in reversed(self.layers):", "        for layer in self.layers[:0]:")  # no backward
HANGS = ("        self.y = 0.5 * (1.0 + np.tanh(0.5 * x))", "        while True:\n            pass")  # Sigmoid.forward


def write_submission(folder, name, old, new):
    """folder/name/model.py: the solution with `old` replaced by `new`."""
    assert old in SOLUTION, f"the solution no longer contains {old!r}: update this test"
    path = folder / name / "model.py"
    path.parent.mkdir()
    path.write_text(SOLUTION.replace(old, new, 1), encoding="utf-8")
    return path.parent


def run_grade(*args, cwd):
    return subprocess.run([sys.executable, str(GRADE), *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=300, stdin=subprocess.DEVNULL)


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as file:
        return {row["path"]: row for row in csv.DictReader(file)}


def check_columns(row):
    return [name for name in row if name not in ("path", "total", "problems")]


def points_per_class(row):
    """{class: points earned} from a CSV row; each check's name contains its class."""
    points = dict.fromkeys(CLASSES, 0)
    for name in check_columns(row):
        points[class_of(name)] += int(row[name])
    return points


def class_of(check_name):
    found = [cls for cls in CLASSES if cls in check_name]
    assert len(found) == 1, f"check {check_name!r} should name exactly one class"
    return found[0]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One grade.py call: the solution, the startup file, every submission above, an edited MLP, an upload that
    kept its folders, and an empty folder."""
    folder = tmp_path_factory.mktemp("submissions")
    paths = [SOLUTION_MODEL, STARTUP_MODEL]
    paths += [write_submission(folder, name, old, new) for name, (old, new) in SUBMISSIONS.items()]
    paths.append(write_submission(folder, "edited_mlp", *EDITED_MLP))
    nested = folder / "upload"  # an upload that kept its folders
    (nested / "kept" / "folders").mkdir(parents=True)
    shutil.copy(SOLUTION_MODEL, nested / "kept" / "folders" / "model.py")
    (folder / "empty").mkdir()
    paths += [nested, folder / "empty"]
    result = run_grade(*paths, "--csv", folder / "grades.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    rows = read_csv(folder / "grades.csv")
    named = {"solution": rows[str(SOLUTION_MODEL)], "startup": rows[str(STARTUP_MODEL)],
             "edited_mlp": rows[str(folder / "edited_mlp")], "nested": rows[str(nested)],
             "empty": rows[str(folder / "empty")]}
    named.update({name: rows[str(folder / name)] for name in SUBMISSIONS})
    return result.stdout, named, len(rows)


def test_csv_has_a_row_per_submission_with_total_and_checks(batch):
    _, rows, count = batch
    assert count == len(rows) == 2 + len(SUBMISSIONS) + 3
    for row in rows.values():
        assert int(row["total"]) == sum(int(row[name]) for name in check_columns(row))
    assert set(points_per_class(rows["solution"])) == set(CLASSES)


def test_solution_gets_full_marks_and_startup_zero(batch):
    stdout, rows, _ = batch
    assert rows["solution"]["total"] == "100"
    assert points_per_class(rows["solution"])["ReLU"] == 0  # the worked example is free
    assert rows["startup"]["total"] == "0"
    assert "total" in stdout and "100/100" in stdout


@pytest.mark.parametrize("mutant, broken", [
    ("bias_grad_averaged", "Linear"),
    ("softmax_backward_diagonal", "Softmax"),
    ("loss_without_1_over_n", "CrossEntropyLoss"),
])
def test_a_mistake_costs_only_the_points_of_the_checks_it_breaks(batch, mutant, broken):
    _, rows, _ = batch
    full, got = points_per_class(rows["solution"]), points_per_class(rows[mutant])
    assert 0 < int(rows[mutant]["total"]) < 100
    assert got[broken] < full[broken]
    assert got[broken] > 0, "the checks the mistake does not touch keep their points"
    for cls in CLASSES:
        if cls not in (broken, "MLP"):  # the MLP is built from the broken layer
            assert got[cls] == full[cls], cls


def test_a_syntax_error_scores_zero_with_the_line(batch):
    stdout, rows, _ = batch
    assert rows["syntax_error"]["total"] == "0"
    assert "syntax error, line" in rows["syntax_error"]["problems"]
    assert "syntax error, line" in stdout


def test_printing_a_lot_changes_nothing(batch):
    stdout, rows, _ = batch
    assert rows["prints_1_MB"]["total"] == "100"
    assert "xxxxxxxxxx" not in stdout


def test_exiting_the_interpreter_costs_what_did_not_run(batch):
    _, rows, _ = batch
    assert rows["sys_exit_at_import"]["total"] == "0"
    assert "sys.exit()" in rows["sys_exit_at_import"]["problems"]
    row, full = rows["os_exit_in_softmax_forward"], rows["solution"]
    got = points_per_class(row)
    assert got["Softmax"] == got["MLP"] == 0
    assert all(got[cls] == points_per_class(full)[cls] for cls in ("Linear", "Sigmoid", "CrossEntropyLoss"))
    assert "exit status 3 during the Softmax checks" in row["problems"]


def test_an_edited_mlp_is_replaced_by_the_reference(batch):
    _, rows, _ = batch
    assert rows["edited_mlp"]["total"] == "100"


def test_a_folder_is_searched_for_its_model_py(batch):
    _, rows, _ = batch
    assert rows["nested"]["total"] == "100"


def test_a_folder_without_model_py_scores_zero(batch):
    _, rows, _ = batch
    assert rows["empty"]["total"] == "0"
    assert "no model.py" in rows["empty"]["problems"]


def test_an_endless_loop_is_stopped_and_the_batch_goes_on(tmp_path):
    hang = write_submission(tmp_path, "hang", *HANGS)
    result = run_grade(hang, SOLUTION_MODEL, "--timeout", 3, "--csv", tmp_path / "grades.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "grades.csv")
    got, full = points_per_class(rows[str(hang)]), points_per_class(rows[str(SOLUTION_MODEL)])
    assert rows[str(SOLUTION_MODEL)]["total"] == "100"
    assert got["Sigmoid"] == got["MLP"] == 0, "what did not finish gets 0"
    assert all(got[cls] == full[cls] for cls in ("Linear", "Softmax", "CrossEntropyLoss")), "what finished counts"
    assert "stopped after 3 s during the Sigmoid checks" in rows[str(hang)]["problems"]
    assert "Summary of 2 submissions" in result.stdout


def test_json_is_gradescope_results(tmp_path):
    mutant = write_submission(tmp_path, "mutant", *SUBMISSIONS["softmax_backward_diagonal"])
    result = run_grade(mutant, "--json", tmp_path / "results.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert isinstance(results["score"], int) and 0 < results["score"] < 100
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    assert sum(test["max_score"] for test in results["tests"]) == 100
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], int) and isinstance(test["max_score"], int)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] == "visible"
        class_of(test["name"])
    softmax = [test for test in results["tests"] if class_of(test["name"]) == "Softmax"]
    assert any(test["score"] < test["max_score"] and "FAIL" in test["output"] for test in softmax)
    assert not (tmp_path / "results.json.tmp").exists()


def test_json_of_a_submission_that_does_not_import(tmp_path):
    broken = write_submission(tmp_path, "broken", *SUBMISSIONS["syntax_error"])
    result = run_grade(broken / "model.py", "--json", tmp_path / "out" / "results.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 0 and "syntax error" in results["output"]
    assert all(test["score"] == 0 and "syntax error" in test["output"] for test in results["tests"])


@pytest.mark.parametrize("args, status", [
    (["no/such/model.py"], 1),
    ([SOLUTION_MODEL, STARTUP_MODEL, "--json", "results.json"], 2),
    ([SOLUTION_MODEL, "--timeout", "0"], 2),
    ([SOLUTION_MODEL, "--jsn", "results.json"], 2),
])
def test_exit_status_when_it_cannot_grade(tmp_path, args, status):
    result = run_grade(*args, cwd=tmp_path)
    assert result.returncode == status
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results.json").exists()
