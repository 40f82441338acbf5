"""The correctness checks: the solution passes, the startup file is all TODO, every common mistake is caught, blamed
on the right class and named, right answers written differently pass; statuses (pass, FAIL, TODO, not run), "Next:",
--only and --explain; the report in English and Chinese, and the language chosen from the locale."""

import os
import re
import subprocess
import sys

import pytest

from chapter03.common import cli
from chapter03.common.checks import CHECKS
from chapter03.common.tasks import TASKS
from conftest import REPO, SOLUTION_MODEL, STARTUP_MODEL, english_words
from coursekit import i18n, report, report_text
from coursekit.explain import explain_check, find_check
from coursekit.report import CheckResult
from coursekit.student_code import load_model_module
from mutants import (
    CORRECT,
    LINEAR_DW,
    MUTANTS,
    NOTED,
    SIGMOID_BACKWARD,
    SIGMOID_FORWARD,
    SOFTMAX_SUM,
    WORDS,
    WORDS_ZH,
    mutate,
)

STUDENT_CLASSES = [task.cls for task in TASKS if task.number is not None]
ALL_CLASSES = [task.cls for task in TASKS]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def run_checks(module, model_file, **options):
    return report.run_checks(module, model_file, CHECKS, TASKS, **options)


def format_report(results, encoding="utf-8", **options):
    return report.format_report(results, TASKS, encoding, **options)


def load_mutant(folder, edits):
    """A copy of the solution with edits, imported from folder/model.py; returns (module, path)."""
    folder.mkdir(exist_ok=True)
    path = folder / "model.py"
    path.write_text(mutate(SOLUTION_MODEL.read_text(encoding="utf-8"), edits), encoding="utf-8")
    return load_model_module(path), path


def mutant(name):
    return next(edits for known, _, edits in MUTANTS if known == name)


def by_name(results):
    return {r.name: r for r in results}


# ---------------------------------------------------------------------------------------------------------------
# The solution, the startup file, the API


def test_the_solution_passes_every_check(solution):
    results = run_checks(solution, SOLUTION_MODEL)
    assert [r.status for r in results] == ["pass"] * len(results), format_report(results)
    assert not any(r.hint for r in results)  # not even a note
    assert format_report(results).splitlines()[-1] == f"{len(results)}/{len(results)} checks passed"


def test_results_follow_the_api_in_class_order(solution):
    results = run_checks(solution, SOLUTION_MODEL)
    assert all(isinstance(r, CheckResult) for r in results)
    assert set(r.cls for r in results) == set(ALL_CLASSES) and results[-1].cls == "MLP"
    assert len({r.name for r in results}) == len(results)  # names are unique
    assert all(r.cls in r.name for r in results)  # and name their class (the grader's test names)
    assert {r.part for r in results} == {"forward", "backward", "stability", "integration"}
    for cls in ("Linear", "Sigmoid", "Softmax", "CrossEntropyLoss"):  # state across calls, for every layer
        assert any(r.cls == cls and "twice" in r.name for r in results)
        assert any(r.cls == cls and "inputs unchanged" in r.name for r in results)
    assert CheckResult("Linear", "n", "forward", "pass") == CheckResult(**vars(CheckResult("Linear", "n", "forward",
                                                                                             "pass")))


def test_the_startup_file_is_todo_except_relu_and_mlp_waits(startup):
    results = run_checks(startup, STARTUP_MODEL)
    for r in results:
        if r.cls in STUDENT_CLASSES:
            assert r.status == "TODO", r
            assert "Task" in r.detail and "README.md section" in r.detail
        elif r.cls == "ReLU":
            assert r.status == "pass", r
        else:
            assert r.status == "not run" and "Linear" in r.blocked_by, r
    text = format_report(results)
    assert "Traceback" not in text
    assert "Next: Task 1: Linear.forward, see chapter03/README.md section 1" in text  # where to start
    for task in TASKS:  # and all that is left, task by task
        if task.number is not None:
            methods = ", ".join(f"{task.cls}.{method}" for method in task.methods)
            assert f"  Task {task.number}: {methods} ({task.handout} section {task.section})" in text
    assert "startup/model.py, line" in text
    assert "· not run  MLP training lowers the loss  (waits for checks of Linear, Sigmoid, Softmax" in text
    passed = sum(r.status == "pass" for r in results)
    assert text.splitlines()[-1] == f"{passed}/{len(results)} checks passed"


def test_shape_checks_carry_no_weight_and_state_checks_wait_for_values():
    """A right-shaped zero must earn nothing: the checks it passes (shapes, "twice the same", "W.data unchanged")
    are worth nothing or run only once the values are right."""
    for check in CHECKS:
        if "shape" in check.name or "inputs unchanged" in check.name:
            assert check.weight == 0, check.name
        if "twice" in check.name or ("unchanged" in check.name and check.weight):
            assert check.after, check.name


# ---------------------------------------------------------------------------------------------------------------
# The mistakes students make


@pytest.mark.parametrize("name, cls, edits", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mistake_fails_in_its_own_class_and_is_named(tmp_path, name, cls, edits):
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    text = format_report(results)
    failures = [r for r in results if r.status == "FAIL"]
    assert failures, f"{name}: not caught\n{text}"
    assert {r.cls for r in results if r.status != "pass"} <= {cls, "MLP"}, f"{name}: blamed elsewhere\n{text}"
    assert all(r.status in ("not run", "pass") for r in results if r.cls == "MLP")  # never blamed on MLP
    for failure in failures:  # every failure explained, not only the first
        assert f"{failure.name}: FAIL" in text
    own = [r for r in failures if r.cls == cls]
    explanation = text[text.index(f"{own[0].name}: FAIL"):]
    assert WORDS[name] in explanation, f"{name}: caught but not named\n{text}"
    assert f"README.md section {STUDENT_CLASSES.index(cls) + 1}" in own[0].hint
    assert "Traceback" not in text


@pytest.mark.parametrize("name", sorted(WORDS_ZH))
def test_each_mistake_is_named_in_chinese_too(tmp_path, name):
    cls, edits = next((cls, edits) for known, cls, edits in MUTANTS if known == name)
    module, path = load_mutant(tmp_path, edits)
    text = format_report(run_checks(module, path, lang="zh"), lang="zh")
    assert WORDS_ZH[name] in text, text


def test_a_backward_right_for_a_wrong_forward_waits_for_it(tmp_path):
    module, path = load_mutant(tmp_path, [(SOFTMAX_SUM, "self.y = exps / np.sum(exps)")])
    results = by_name(run_checks(module, path))
    assert results["Softmax.forward values"].status == "FAIL"
    dx = results["Softmax.backward dx"]
    assert dx.status == "not run" and dx.blocked_by == "Softmax.forward values"
    assert "(waits for Softmax.forward values)" in format_report(list(results.values()))
    chinese = format_report(run_checks(module, path, lang="zh"), lang="zh")
    assert "未运行   Softmax.backward dx（等待 Softmax.forward 的值）" in chinese


def test_a_half_written_model_reports_in_chinese_only(tmp_path):
    todo = 'raise NotImplementedError("Task 3: later")'
    module, path = load_mutant(tmp_path, [(SOFTMAX_SUM, "self.y = exps / np.sum(exps)"),
                                          ("return -self.targets / self.probs / len(self.probs)", todo),
                                          (SIGMOID_FORWARD, "self.y = 1 // (1 + np.exp(-x))")])
    text = format_report(run_checks(module, path, lang="zh"), lang="zh", explain_command='python main.py '
                         '--explain "{name}"')
    assert english_words(text) == [], text
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff，。：）（]", text), text  # no stray space
    assert ": " not in re.sub(r"\"[^\"]*\"|\w+Error: ", "", text).replace("dtype: ", ""), text


@pytest.mark.parametrize("name, cls, edits, words", NOTED, ids=[m[0] for m in NOTED])
def test_a_harmless_write_into_an_input_passes_with_a_note(tmp_path, name, cls, edits, words):
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    assert all(r.status == "pass" for r in results), format_report(results)
    noted = [r for r in results if r.hint]
    assert [r.cls for r in noted] == [cls] and words in noted[0].hint
    assert f"{noted[0].name}: passed, with a note" in format_report(results)


@pytest.mark.parametrize("name, edits", CORRECT, ids=[m[0] for m in CORRECT])
def test_a_correct_file_written_differently_passes_everything(tmp_path, name, edits):
    module, path = load_mutant(tmp_path, edits)
    results = run_checks(module, path)
    assert all(r.status == "pass" and not r.hint for r in results), format_report(results)


def test_an_exception_shows_its_type_message_line_and_shapes(tmp_path):
    module, path = load_mutant(tmp_path, mutant("forward with x @ W.T"))
    line = path.read_text(encoding="utf-8").splitlines().index("        return x @ self.W.data.T + self.b.data") + 1
    results = run_checks(module, path)
    first = next(r for r in results if r.status == "FAIL")
    assert first.cls == "Linear" and first.method == "forward"
    assert "ValueError: matmul" in first.detail and f"line {line}" in first.detail
    assert "x (N, D) = (3, 4)" in first.detail and "W.data (D, M) = (4, 5)" in first.detail


def test_a_missing_class_fails_its_checks_saying_so():
    module = load_model_module(SOLUTION_MODEL)  # a fresh copy, changed below
    del module.Softmax
    results = run_checks(module, SOLUTION_MODEL)
    softmax = [r for r in results if r.cls == "Softmax"]
    assert softmax and all(r.status == "FAIL" and "no class Softmax" in r.detail for r in softmax)
    assert all(r.status == "pass" for r in results if r.cls not in ("Softmax", "MLP"))
    assert "no class Softmax" in format_report(results)


def test_a_sigmoid_that_overflows_passes_with_a_hint(tmp_path):
    module, path = load_mutant(tmp_path, [(SIGMOID_FORWARD, "self.y = 1.0 / (1.0 + np.exp(-x))")])
    results = run_checks(module, path)
    assert all(r.status == "pass" for r in results), format_report(results)
    stability = next(r for r in results if r.cls == "Sigmoid" and r.part == "stability")
    assert "overflow" in stability.hint and "README.md section 2" in stability.hint


def test_large_arrays_are_summarized_small_ones_shown(tmp_path):
    module, path = load_mutant(tmp_path / "dW", mutant("dW scaled by 1/N"))
    text = format_report(run_checks(module, path))
    assert "the largest error is" in text and "at index (" in text and "Worst at" in text  # W.grad is (4, 5)
    assert "1/N" in text and "allowed error" in text
    module, path = load_mutant(tmp_path / "db", mutant("bias gradient zeroed"))
    text = format_report(run_checks(module, path))
    assert "expected [[" in text and "got      [[" in text  # b.grad is (1, 5): shown whole


# ---------------------------------------------------------------------------------------------------------------
# Statuses and what blocks a check


def test_a_failing_forward_blocks_the_backward_checks_and_an_unwritten_backward_stays_todo(tmp_path):
    raising = ("        self.x = x\n", '        raise ValueError("the shapes do not match")\n')
    module, path = load_mutant(tmp_path / "written", [raising])
    results = by_name(run_checks(module, path))
    assert results["Linear.forward values"].status == "FAIL"
    assert results["Linear.backward dW"].status == "not run"
    assert results["Linear.backward dW"].blocked_by == "Linear.forward"
    module, path = load_mutant(tmp_path / "stub", [raising, (f"        {LINEAR_DW}\n",
                                                           '        raise NotImplementedError("Task 1: later")\n')])
    results = by_name(run_checks(module, path))
    assert results["Linear.backward dW"].status == "TODO"  # never written: not blamed, not blocked
    assert "Task 1: later" in results["Linear.backward dW"].detail


def test_a_wrong_shape_of_one_gradient_fails_only_its_own_checks(tmp_path):
    module, path = load_mutant(tmp_path, mutant("bias gradient without keepdims"))
    results = by_name(run_checks(module, path))
    assert results["Linear.backward dx"].status == results["Linear.backward dW"].status == "pass"
    assert results["Linear.backward db"].status == "FAIL"


def test_a_blocked_check_that_nothing_else_explains_is_a_failure(tmp_path):
    module, path = load_mutant(tmp_path, mutant("forward with x @ W.T"))
    result = by_name(run_checks(module, path))["Linear.backward dx"]  # with every check: dx is not run
    assert result.status == "not run"
    dx = next(check for check in CHECKS if check.name == "Linear.backward dx")
    [alone] = report.run_checks(module, path, [dx], TASKS)  # without the forward checks: dx says it
    assert alone.status == "FAIL" and "matmul" in alone.detail


def test_earlier_results_are_used_for_prerequisites(tmp_path):
    module, path = load_mutant(tmp_path, mutant("bias gradient averaged"))
    earlier = run_checks(module, path)
    mlp = [check for check in CHECKS if check.cls == "MLP"]
    [again] = report.run_checks(module, path, mlp, TASKS, earlier=earlier)
    assert again.status == "not run" and "Linear.backward db" in again.blocked_by
    [from_scratch] = report.run_checks(module, path, mlp, TASKS)
    assert from_scratch.status == "not run" and from_scratch.blocked_by == again.blocked_by


def test_next_points_at_the_earliest_failing_or_unwritten_method(tmp_path, startup):
    sigmoid_stub = (SIGMOID_BACKWARD, 'raise NotImplementedError("Task 2: Sigmoid.backward")')
    module, path = load_mutant(tmp_path / "a", [*mutant("forward forgets the bias"), sigmoid_stub])
    text = format_report(run_checks(module, path))
    assert "Next: fix Linear.forward values (explained above)." in text
    module, path = load_mutant(tmp_path / "b", [sigmoid_stub])
    text = format_report(run_checks(module, path))
    assert "Next: Task 2: Sigmoid.backward (" in text and "model.py, line" in text


def test_failures_with_the_same_cause_are_said_once(tmp_path):
    module, path = load_mutant(tmp_path, mutant("backward uses a local variable of forward"))
    text = format_report(run_checks(module, path))
    assert text.count("NameError") == 1
    assert "Linear.backward dW: FAIL, for the same reason as Linear.backward shapes and dtype." in text
    assert text.count("Reread chapter03/README.md section 1") == 1


@pytest.mark.requires("sandbox")
@pytest.mark.parametrize("name", ["weight gradient accumulated with +=", "backward updates W.data with a large step",
                                  "forward with x @ W.T", "loss indexes probs with integer labels",
                                  "softmax divides by the sum of the whole batch"])
def test_the_checks_give_the_same_statuses_through_a_sandbox(tmp_path, name):  # the grader's proxy of the module
    from coursekit.sandbox import Sandbox

    module, path = load_mutant(tmp_path, mutant(name))
    local = [(r.name, r.status) for r in run_checks(module, path)]
    with Sandbox(path, timeout=20) as box:
        remote = [(r.name, r.status) for r in run_checks(box.module, path)]
    assert remote == local


# ---------------------------------------------------------------------------------------------------------------
# Languages


def test_the_report_speaks_chinese_with_the_handouts_terms(tmp_path, startup):
    results = run_checks(startup, STARTUP_MODEL, lang="zh")
    text = format_report(results, lang="zh")
    assert "ReLU（示例，已经写好）" in text
    assert "下一步：任务 1：Linear.forward（见讲义 chapter03/README.md 第 1 节" in text
    assert text.splitlines()[-1] == f"通过 4/{len(results)} 项检查"
    module, path = load_mutant(tmp_path, mutant("softmax backward with only the diagonal"))
    text = format_report(run_checks(module, path, lang="zh"), lang="zh")
    assert "雅可比矩阵的对角线" in text and "提示：" in text
    assert "重读讲义 chapter03/README.md 第 3 节（Softmax）" in text
    assert i18n.language() == "en"  # lang= lasts for the call only


@pytest.mark.parametrize("name, cls, edits", MUTANTS[::4], ids=[m[0] for m in MUTANTS[::4]])
def test_every_explanation_exists_in_both_languages(tmp_path, name, cls, edits):
    module, path = load_mutant(tmp_path, edits)
    english = format_report(run_checks(module, path, lang="en"), lang="en")
    chinese = format_report(run_checks(module, path, lang="zh"), lang="zh")
    assert not CHINESE.search(english)
    explained = [line for line in chinese.splitlines() if line.startswith("    ") and "Error:" not in line
                 and not line.strip().startswith(("expected", "got", "wrong", "first", "second", "before", "after",
                                                  "[", "The arrays"))]
    assert explained and all(CHINESE.search(line) for line in explained), chinese


@pytest.mark.parametrize("environ, expected", [
    ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "zh_TW.Big5"}, "zh"), ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"), ({"LC_MESSAGES": "zh_CN", "LANG": "en_US"}, "zh"),
    ({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, "zh"), ({"LANGUAGE": "zh_CN", "LC_ALL": "C"}, "en"),
    ({}, "en"), ({"COURSEKIT_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"), ({"COURSEKIT_LANG": "zh"}, "zh"),
])
def test_the_default_language_follows_the_locale(environ, expected):
    assert i18n.locale_language(environ, windows_ui_language=0x0409) == expected
    assert i18n.locale_language(environ, windows_ui_language=0x0804) == ("zh" if not environ else expected)


def test_a_console_that_cannot_show_chinese_gets_english_and_a_note(startup):
    lang, note = i18n.choose_language("zh", "cp1252")
    assert lang == "en" and "cannot show Chinese" in note
    assert i18n.choose_language("zh", "gbk") == ("zh", "")
    text = format_report(run_checks(startup, STARTUP_MODEL), encoding="cp1252", lang="zh")
    text.encode("cp1252")
    assert text.splitlines()[0].startswith("(This console (cp1252) cannot show Chinese")


def main_py(tree, *argv, env=None):
    """Run python chapter03/<tree>/main.py in a new process with this environment (the locale decides there)."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "PYTHONIOENCODING", i18n.KIT_VARIABLE)}
    environ.update(env or {})
    return subprocess.run([sys.executable, str(REPO / "chapter03" / tree / "main.py"), *argv], env=environ,
                          capture_output=True, text=True, encoding=environ.get("PYTHONIOENCODING", "utf-8"),
                          errors="replace", timeout=120)


@pytest.mark.handed_out_startup
def test_main_speaks_the_locales_language_unless_told(tmp_path):
    chinese = main_py("startup", "--checks_only", env={"LANG": "zh_CN.UTF-8", "PYTHONIOENCODING": "utf-8"})
    assert chinese.returncode == 1 and "下一步：" in chinese.stdout and "Next:" not in chinese.stdout
    english = main_py("startup", "--checks_only", "--lang", "en", env={"LANG": "zh_CN.UTF-8",
                                                                      "PYTHONIOENCODING": "utf-8"})
    assert "Next:" in english.stdout and not CHINESE.search(english.stdout + english.stderr)
    fallback = main_py("startup", "--checks_only", "--lang", "zh", env={"PYTHONIOENCODING": "cp1252"})
    assert fallback.stdout.startswith("(This console (cp1252) cannot show Chinese") and "Next:" in fallback.stdout


# ---------------------------------------------------------------------------------------------------------------
# --only and --explain


@pytest.mark.parametrize("only, cls", [("Softmax", "Softmax"), ("softmax", "Softmax"), ("3", "Softmax"),
                                       ("1", "Linear"), ("MLP", "MLP")])
def test_only_runs_the_checks_of_one_class_or_task(startup, only, cls):
    results = run_checks(startup, STARTUP_MODEL, only=only)
    assert results and {r.cls for r in results} == {cls}


@pytest.mark.handed_out_startup
def test_only_and_explain_on_the_command_line(capsys):
    assert cli.main(REPO / "chapter03" / "solution", ["--only", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Sigmoid" and out.splitlines()[-1] == "7/7 checks passed"
    assert cli.main(REPO / "chapter03" / "startup", ["--only", "Softmax"]) == 1
    for bad in (["--only", "Tanh"], ["--explain", "no such check"], ["--explain", "twice"],
                ["--only", "1", "--explain", "Linear.backward dW"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(REPO / "chapter03" / "solution", bad)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Linear.backward twice gives the same result" in err  # the candidates are listed


def test_explain_prints_a_snippet_that_reproduces_the_failure(tmp_path, capsys):
    module, path = load_mutant(tmp_path / "tree", mutant("dW scaled by 1/N"))
    assert find_check(CHECKS, "Softmax.forward 的值")[0].name == "Softmax.forward values"  # the Chinese name too
    check, _ = find_check(CHECKS, "linear.backward dW")
    text, passed = explain_check(module, path, CHECKS, TASKS, check)
    assert not passed and text.startswith("Linear.backward dW: FAIL")
    assert "seed 3" in text and "wrong    [[x x x x x]" in text
    code = text[text.index("# Linear.backward dW"):]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("got:") and "True" in run.stdout.split("wrong entries (True):")[1]
    assert cli.main(tmp_path / "tree", ["--explain", "Linear.backward dW", "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "把下面的代码粘贴到 Python 里" in out and "linear.backward(grad_output)" in out


def test_explain_replays_an_exception_and_a_passing_check(tmp_path):
    module, path = load_mutant(tmp_path, mutant("softmax sum without keepdims"))
    check, _ = find_check(CHECKS, "Softmax.forward values")
    text, _ = explain_check(module, path, CHECKS, TASKS, check)
    code = text[text.index("# Softmax.forward values"):]
    assert code.splitlines()[-1].endswith("# raises ValueError")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert "operands could not be broadcast together" in run.stderr
    solution = load_model_module(SOLUTION_MODEL)
    text, passed = explain_check(solution, SOLUTION_MODEL, CHECKS, TASKS, find_check(CHECKS, "MLP")[0])
    assert passed and "too many steps" in text


@pytest.mark.parametrize("encoding", ["cp1252", "cp936", "ascii", "utf-8"])
def test_a_console_without_check_marks_gets_ascii(startup, encoding):
    text = format_report(run_checks(startup, STARTUP_MODEL), encoding=encoding)
    text.encode(encoding)  # prints without UnicodeEncodeError
    marks = report_text.MARKS if encoding == "utf-8" else {"pass": "+", "TODO": "-", "not run": "."}
    assert f"{marks['pass']} pass     ReLU.forward values" in text
    assert f"{marks['TODO']} TODO     Linear.forward values" in text and f"{marks['not run']} not run  MLP" in text


def test_text_the_console_cannot_print_is_replaced():
    results = [CheckResult("Linear", "Linear.forward values", "forward", "FAIL", "ValueError: 形状不对", "Reread.")]
    text = format_report(results, encoding="cp1252")
    text.encode("cp1252")
    assert "ValueError: ????" in text and text.endswith("0/1 checks passed")
