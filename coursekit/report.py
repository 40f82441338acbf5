"""Running a chapter's checks on a student's module (never raising because of the student's code). Statuses: pass,
FAIL, TODO (the tested method is a stub: never blamed), not run (a method used on the way fails, a check of `after`
did not pass, or WaitsFor). The report's text: report_text.py."""

import ast
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .diagnoses import diagnose_exception
from .gradcheck import NOTES, CheckFailed, WaitsFor
from .i18n import say, sentences, speaking
from .report_text import format_report, reread, todo_detail  # noqa: F401 (format_report: the callers import it here)
from .student_code import explain_exception, student_frames
from .transcript import Transcript

PASS, FAIL, TODO, NOT_RUN = "pass", "FAIL", "TODO", "not run"


@dataclass(frozen=True)
class Check:
    """One check of one class: function(module) returns when it passes, raises CheckFailed when it fails.
    methods: those it tests (default: its part's, or all of the row's); another one failing blocks it. after: checks
    that must pass first. explain_error(error, call): the chapter's diagnosis of an exception, or ''. replay: False
    when --explain cannot replay it. blames_exceptions: False when another check explains them."""

    task: object  # the row of the task table of the class it checks
    name: str  # short unique name containing the class, e.g. "Linear.backward dW"
    part: str  # "forward", "backward", "stability" or "integration"
    function: Callable
    weight: int = 1  # its share of the task's points (0: checked, worth nothing on its own)
    methods: tuple = None
    after: tuple = ()
    sizes: tuple = ()
    explain_error: Callable = None
    replay: bool = True
    blames_exceptions: bool = True

    @property
    def cls(self):
        return self.task.cls

    @property
    def tested(self):
        if self.methods is not None:
            return tuple(self.methods)
        if self.part in self.task.methods:  # "forward" or "backward"
            return (self.part,)
        return tuple(self.task.methods)


@dataclass
class CheckResult:
    cls: str  # class tested, e.g. "Linear", or "MLP" (integration)
    name: str  # the check's name, e.g. "Linear.backward dW"
    part: str  # "forward", "backward", "stability" or "integration"
    status: str  # "pass", "FAIL", "TODO" or "not run"
    detail: str = ""  # FAIL/TODO/not run: what was expected vs got, where (the line of model.py for exceptions)
    hint: str = ""  # FAIL: what to reread, naming the handout section (for a pass: a note worth reading)
    method: str = ""  # the method it tests ("forward", "backward"; "" when several)
    blocked_by: str = ""  # not run: what blocked it ("Linear.forward", or the names of checks that did not pass)


def selected(checks, only):
    """The checks of one class (only="Softmax", any case) or task number (only="3"); all of them for only=None."""
    if only is None:
        return list(checks)
    wanted = str(only).strip().lower()
    return [c for c in checks if wanted in (c.cls.lower(), str(c.task.number))]


def run_checks(module, model_file, checks, tasks, only=None, lang=None, earlier=None):
    """The results of the checks (of the class or task `only`) on module, imported from model_file. The checks of
    their `after` run too, quietly, unless earlier (results already known: a list, or a dict by name) has them."""
    with speaking(lang):
        chosen = selected(checks, only)
        done = dict(earlier) if isinstance(earlier, dict) else {r.name: r for r in earlier or ()}
        stubs = unwritten_methods(model_file)
        ordered = {c.name: c for check in chosen for c in (*check.after, check)}  # an `after` holds its own `after`
        for check in ordered.values():
            if check.name not in done or check in chosen:
                done[check.name] = attempt(module, model_file, check, tasks, done, stubs)[0]
        results = [done[check.name] for check in chosen]
        # A check blocked by a method no FAIL or TODO of another check explains is a FAIL: only its detail says why.
        methods = {f"{task.cls}.{method}" for task in tasks for method in (*task.methods, "__init__")}
        for result in results:
            if result.status == NOT_RUN and result.blocked_by in methods and not any(
                    other.status in (FAIL, TODO) and f"{other.cls}.{other.method}" == result.blocked_by
                    for other in done.values()):
                result.status = FAIL
        return results


def attempt(module, model_file, check, tasks, done, stubs, run_anyway=False):
    """Run one check: (its CheckResult, its transcript, the CheckFailed or exception that ended it, or None).
    run_anyway: run it even when a check of its `after` did not pass (for --explain)."""
    method = check.tested[0] if len(check.tested) == 1 else ""

    def result(status, detail="", hint="", blocked_by=""):
        return CheckResult(check.cls, check.name, check.part, status, detail, hint, method, blocked_by)

    transcript = Transcript([task.cls for task in tasks])
    if not hasattr(module, check.cls):
        return result(FAIL, say(f"{Path(model_file).name} has no class {check.cls}.",
                                f"{Path(model_file).name} 里没有 {check.cls} 类。"),
                      say(f"Keep every class of the original model.py: {check.cls} is one of them.",
                          f"保留原来 model.py 里的每一个类：{check.cls} 是其中之一。")), transcript, None
    todo = next((result(TODO, todo_detail(check.task, m, stubs[check.cls, m][1], model_file, stubs[check.cls, m][0]))
                 for m in check.tested if (check.cls, m) in stubs), None)  # when a method it tests is not written yet
    blockers = [before.name for before in check.after if not run_anyway
                and (done.get(before.name) is None or done[before.name].status != PASS)]
    if blockers:
        return (todo or result(NOT_RUN, blocked_by=", ".join(blockers))), transcript, None
    reread_text = reread(check.task, tasks)
    # Warn (not raise, not stay silent) on overflow, division by zero and NaN; underflow to 0 is harmless.
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", divide="warn", invalid="warn",
                                                                     under="ignore"):
        warnings.simplefilter("always")
        NOTES.clear()
        try:
            check.function(transcript.wrap(module))
        except WaitsFor as wait:  # right for the wrong state another method left
            return result(NOT_RUN, wait.detail, blocked_by=wait.check), transcript, wait
        except CheckFailed as failure:
            warned = numpy_warnings(caught, model_file)
            return result(FAIL, failure.detail + (f"\n{warned}" if warned else ""),
                          sentences(failure.hint, reread_text)), transcript, failure
        except (Exception, SystemExit) as error:  # the student's code raised (or called exit()): explain where
            return judge_exception(error, check, transcript, model_file, result, todo, reread_text), transcript, error
    warned = numpy_warnings(caught, model_file)
    if warned:
        warned = sentences(warned, say("The values are right, but a number overflowed or was divided by zero on the "
                                       "way.", "结果是对的，但计算过程中有数溢出或者除以了 0。"))
    return result(PASS, hint=sentences(*NOTES, warned, reread_text) if warned or NOTES else ""), transcript, None


def judge_exception(error, check, transcript, model_file, result, todo, reread_text):
    """The result of a check ended by an exception of the student's code (or of a call the check made); todo: the
    TODO result when a method it tests is unwritten, else None."""
    call = transcript.raised_in  # None: raised by the check's own code on what the student's code gave it
    cls, _, method = (call or "").partition(".")
    tested = call is None or cls != check.cls or method in check.tested or method == "__init__"
    if isinstance(error, NotImplementedError):  # a stub
        if tested:
            frames = student_frames(error, model_file)
            return result(TODO, todo_detail(check.task, method or check.tested[0], str(error), model_file,
                                            frames[-1].lineno if frames else None))
        return todo or result(NOT_RUN, say(f"{call} is not written yet.", f"{call} 还没写。"), blocked_by=call)
    own = check.explain_error(error, call) if check.explain_error else ""
    diagnosis = own or diagnose_exception(error, call, transcript.call_arrays(), check.sizes)
    text = explain_exception(error, model_file) + (f"\n{diagnosis}" if diagnosis else "")
    if tested and (check.blames_exceptions or call is None):
        return result(FAIL, text, reread_text)
    return todo or result(NOT_RUN, say(f"{call} raised: ", f"{call} 出错：") + text, reread_text, blocked_by=call)


NUMPY_WARNINGS = {"overflow": "溢出", "divide by zero": "除以 0", "invalid value": "无效值（NaN）", "underflow": "下溢"}


def numpy_warning_text(message):
    """NumPy's 'overflow encountered in exp' in the run's language ('exp 中溢出')."""
    match = re.match(r"(overflow|divide by zero|invalid value|underflow) encountered in (\w+)", message)
    return say(message, f"{match[2]} 中{NUMPY_WARNINGS[match[1]]}") if match else message


def numpy_warnings(caught, model_file):
    """The RuntimeWarnings NumPy gave during a check (overflow, division by zero...), in one line, or ''."""
    model_file = Path(model_file).resolve()
    seen = list(dict.fromkeys(numpy_warning_text(str(w.message)) + (
        say(f" ({model_file.name}, line {w.lineno})", f"（{model_file.name} 第 {w.lineno} 行）")
        if Path(w.filename).resolve() == model_file else "") for w in caught if issubclass(w.category, RuntimeWarning)))
    return say(f"NumPy warned: {'; '.join(seen)}.", f"NumPy 警告：{'；'.join(seen)}。") if seen else ""


def unwritten_methods(model_file):
    """{(class, method): (line, message)} of the methods whose first statement (after the docstring) raises
    NotImplementedError, read from the file's text (the same in the grader's sandbox)."""
    tree, stubs = ast.parse(Path(model_file).read_bytes()), {}
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for function in (node for node in cls.body if isinstance(node, ast.FunctionDef)):
            body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            raised = body[0].exc if body and isinstance(body[0], ast.Raise) else None
            raised, args = (raised.func, raised.args) if isinstance(raised, ast.Call) else (raised, [])
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                message = args[0].value if args and isinstance(args[0], ast.Constant) else ""
                stubs[cls.name, function.name] = (body[0].lineno, str(message))
    return stubs
