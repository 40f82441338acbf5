"""The correctness checks: the solution passes, the startup file is all TODO, and every common mistake is caught
and blamed on the right class, in a report a student can read."""

import pytest

from chapter03.common.checks import CHECKS
from chapter03.common.tasks import TASKS
from conftest import SOLUTION_MODEL, STARTUP_MODEL
from coursekit import report
from coursekit.report import CheckResult
from coursekit.student_code import load_model_module
from mutants import MUTANTS, mutate

STUDENT_CLASSES = ("Linear", "Sigmoid", "Softmax", "CrossEntropyLoss")


def run_checks(module, model_file):
    return report.run_checks(module, model_file, CHECKS, TASKS)


def format_report(results, encoding=None):
    return report.format_report(results, TASKS, encoding)
ALL_CLASSES = ["Linear", "ReLU", "Sigmoid", "Softmax", "CrossEntropyLoss", "MLP"]


def load_mutant(folder, edits):
    """A copy of the solution with edits, imported from folder/model.py; returns (module, path)."""
    folder.mkdir(exist_ok=True)
    path = folder / "model.py"
    path.write_text(mutate(SOLUTION_MODEL.read_text(encoding="utf-8"), edits), encoding="utf-8")
    return load_model_module(path), path


def test_the_solution_passes_every_check(solution):
    results = run_checks(solution, SOLUTION_MODEL)
    assert [r.status for r in results] == ["pass"] * len(results), format_report(results)
    assert not any(r.hint for r in results)  # not even a warning
    report = format_report(results)
    assert report.splitlines()[-1] == f"{len(results)}/{len(results)} checks passed"


def test_results_follow_the_api_in_class_order(solution):
    results = run_checks(solution, SOLUTION_MODEL)
    assert all(isinstance(r, CheckResult) for r in results)
    assert list(dict.fromkeys(r.cls for r in results)) == ALL_CLASSES
    assert len({r.name for r in results}) == len(results)  # names are unique
    assert all(r.cls in r.name for r in results)  # and name their class (the grader's test names)
    assert {r.part for r in results} == {"forward", "backward", "stability", "integration"}
    for cls in ("Sigmoid", "Softmax", "CrossEntropyLoss"):
        assert any(r.cls == cls and r.part == "stability" for r in results)


def test_the_startup_file_is_todo_except_relu(startup):
    results = run_checks(startup, STARTUP_MODEL)
    for r in results:
        if r.cls in STUDENT_CLASSES:
            assert r.status == "TODO", r
            assert "Task" in r.detail and "README.md section" in r.detail
        elif r.cls == "ReLU":
            assert r.status == "pass", r
    report = format_report(results)
    assert "Traceback" not in report
    assert "Next: Task 1: Linear.forward, see chapter03/README.md section 1" in report  # once, where to start
    assert report.count("Task 1") == 1
    assert "startup/model.py, line" in report
    passed = sum(r.status == "pass" for r in results)
    assert report.splitlines()[-1] == f"{passed}/{len(results)} checks passed"


@pytest.mark.parametrize("name, cls, edits", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mistake_fails_in_its_own_class(tmp_path, name, cls, edits):
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    failures = [r for r in results if r.status == "FAIL"]
    assert failures, f"{name}: not caught\n{format_report(results)}"
    assert {r.cls for r in failures} <= {cls, "MLP"}, f"{name}: blamed on the wrong class\n{format_report(results)}"
    assert all(r.status == "pass" for r in results if r.cls not in (cls, "MLP"))
    report = format_report(results)
    first = next(r for r in failures if r.cls == cls)
    assert f"{first.name}: FAIL" in report  # explained, under its class's name
    assert f"README.md section {STUDENT_CLASSES.index(cls) + 1}" in first.hint
    assert "Traceback" not in report


def test_an_exception_shows_its_type_message_and_line(tmp_path):
    edits = [("        self.x = x\n", '        raise ValueError("the shapes do not match")\n')]
    module, path = load_mutant(tmp_path, edits)
    line = path.read_text(encoding="utf-8").splitlines().index('        raise ValueError("the shapes do not match")')
    results = run_checks(module, path)
    first = next(r for r in results if r.status == "FAIL")
    assert first.cls == "Linear"
    assert "ValueError: the shapes do not match" in first.detail
    assert f"line {line + 1}" in first.detail
    report = format_report(results)
    assert f"line {line + 1}" in report and "Traceback" not in report


def test_a_missing_class_fails_its_checks_saying_so():
    module = load_model_module(SOLUTION_MODEL)  # a fresh copy, changed below
    del module.Softmax
    results = run_checks(module, SOLUTION_MODEL)
    softmax = [r for r in results if r.cls == "Softmax"]
    assert softmax and all(r.status == "FAIL" and "no class Softmax" in r.detail for r in softmax)
    assert all(r.status == "pass" for r in results if r.cls not in ("Softmax", "MLP"))
    assert "no class Softmax" in format_report(results)


def test_a_sigmoid_that_overflows_passes_with_a_hint(tmp_path):
    edits = [("self.y = 0.5 * (1.0 + np.tanh(0.5 * x))", "self.y = 1.0 / (1.0 + np.exp(-x))")]
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    assert all(r.status == "pass" for r in results), format_report(results)
    stability = next(r for r in results if r.cls == "Sigmoid" and r.part == "stability")
    assert "overflow" in stability.hint and "README.md section 2" in stability.hint
    assert "overflow" in format_report(results)


def test_a_stub_without_a_message_is_still_todo(tmp_path):
    edits = [('        self.x = x\n', "        raise NotImplementedError\n")]
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    assert {r.status for r in results if r.cls == "Linear"} == {"TODO"}
    assert "Next:" in format_report(results)


def test_large_arrays_are_summarized_small_ones_shown(tmp_path):
    dW_over_n = next(edits for name, _, edits in MUTANTS if name == "dW scaled by 1/N")
    module, path = load_mutant(tmp_path / "dW", dW_over_n)
    report = format_report(run_checks(module, path))
    assert "the largest error is" in report and "at index (" in report  # W.grad is (4, 5): too big to print
    assert "1/N" in report
    no_bias = next(edits for name, _, edits in MUTANTS if name == "bias gradient zeroed")
    module, path = load_mutant(tmp_path / "db", no_bias)
    report = format_report(run_checks(module, path))
    assert "expected [[" in report and "got      [[" in report  # b.grad is (1, 5): shown whole


@pytest.mark.parametrize("encoding", ["cp1252", "cp936", "ascii"])
def test_a_console_without_check_marks_gets_ascii(startup, encoding):
    results = run_checks(startup, STARTUP_MODEL)
    report = format_report(results, encoding=encoding)
    report.encode(encoding)  # prints without UnicodeEncodeError
    assert "✓" not in report and "+ pass  ReLU.forward values" in report
    assert "- TODO  Linear.forward values" in report


def test_a_utf8_console_gets_check_marks(startup):
    report = format_report(run_checks(startup, STARTUP_MODEL), encoding="utf-8")
    assert "✓ pass  ReLU.forward values" in report and "○ TODO  Linear.forward values" in report


def test_text_the_console_cannot_print_is_replaced():
    results = [CheckResult("Linear", "Linear.forward values", "forward", "FAIL", "ValueError: 形状不对", "Reread.")]
    report = format_report(results, encoding="cp1252")
    report.encode("cp1252")
    assert "ValueError: ????" in report and report.endswith("0/1 checks passed")
