"""Running a chapter's checks on a student's module, and the report a student reads.

    results = run_checks(module, model_file, checks)   # never raises because of the student's code
    print(format_report(results, tasks))               # last line: "N/M checks passed"

A check whose code reaches a stub (NotImplementedError) is TODO, not a crash; any other exception is a FAIL reported
with its type, message and the line of model.py. Used by main.py, the grader and the tests.
"""

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .gradcheck import CheckFailed
from .student_code import explain_exception, is_stub, stub_detail
from .tasks import EXAMPLE


@dataclass(frozen=True)
class Check:
    """One check of one class: function(module) returns when it passes and raises CheckFailed when it fails."""

    task: object  # the row of the task table of the class it checks
    name: str  # short unique name containing the class, e.g. "Linear.backward dW"
    part: str  # "forward", "backward", "stability" or "integration"
    function: Callable
    weight: int = 1  # its share of the task's points (0: checked, worth nothing on its own)

    @property
    def cls(self):
        return self.task.cls


@dataclass
class CheckResult:
    cls: str  # class tested, e.g. "Linear", or "MLP" (integration)
    name: str  # the check's name, e.g. "Linear.backward dW"
    part: str  # "forward", "backward", "stability" or "integration"
    status: str  # "pass", "FAIL" or "TODO"
    detail: str = ""  # for FAIL/TODO: what was expected vs got, where (the line of model.py for exceptions)
    hint: str = ""  # for FAIL: what to reread, naming the handout section (for a pass: a warning worth fixing)


def selected(checks, only):
    """The checks of one class (only="Softmax") or task number (only="3"); all of them for only=None."""
    if only is None:
        return list(checks)
    return [c for c in checks if only in (c.cls, str(c.task.number))]


def run_checks(module, model_file, checks, tasks, only=None):
    """Run the checks (of the class or task `only`) on module, imported from model_file, in order. Never raises
    because of the student's code."""
    return [run_one(module, model_file, check, tasks) for check in selected(checks, only)]


def run_one(module, model_file, check, tasks):
    """Run one check; whatever the student's code does (short of hanging), return its CheckResult."""
    def result(status, detail="", hint=""):
        return CheckResult(check.cls, check.name, check.part, status, detail, hint)

    if not hasattr(module, check.cls):
        return result("FAIL", f"{Path(model_file).name} has no class {check.cls}.",
                      f"Keep every class of the original model.py: {check.cls} is one of them.")
    reread = check.task.reread(tasks)
    # Warn (not raise, not stay silent) on overflow, division by zero and NaN, whatever the caller set before;
    # underflow to 0 is harmless and stays silent.
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", divide="warn", invalid="warn",
                                                                     under="ignore"):
        warnings.simplefilter("always")
        try:
            check.function(module)
        except CheckFailed as failure:
            warned = numpy_warnings(caught, model_file)
            return result("FAIL", failure.detail + (f"\n{warned}" if warned else ""),
                          f"{failure.hint} {reread}".strip())
        except Exception as exc:  # the student's code raised: a TODO if it is a stub, else explain where
            if is_stub(exc):
                return result("TODO", stub_detail(exc, model_file))
            return result("FAIL", explain_exception(exc, model_file), reread)
    warned = numpy_warnings(caught, model_file)
    if warned:
        return result("pass", hint=f"{warned} The values are right, but a number overflowed or was divided by zero "
                                   f"on the way. {reread}")
    return result("pass")


def numpy_warnings(caught, model_file):
    """The RuntimeWarnings NumPy gave during a check (overflow, division by zero...), in one line, or ''."""
    model_file = Path(model_file).resolve()
    seen = []
    for w in caught:
        if not issubclass(w.category, RuntimeWarning):
            continue
        where = f" ({model_file.name}, line {w.lineno})" if Path(w.filename).resolve() == model_file else ""
        text = f"{w.message}{where}"
        if text not in seen:
            seen.append(text)
    return f"NumPy warned: {'; '.join(seen)}." if seen else ""


# ---------------------------------------------------------------------------------------------------------------
# The report

MARKS = {"pass": "✓", "FAIL": "✗", "TODO": "○"}
ASCII_MARKS = {"pass": "+", "FAIL": "x", "TODO": "-"}


def marks_for(encoding):
    """The check marks when the console can print them (a Windows cp1252 or cp936 console cannot), else ASCII."""
    try:
        "".join(MARKS.values()).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return MARKS


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.split("\n"))


def format_report(results, tasks, encoding=None):
    """The whole report: one line per check grouped by class, the first failure of each failing class explained,
    the next TODO, and last the line 'N/M checks passed'. encoding: the console's (default: sys.stdout's)."""
    encoding = encoding or getattr(sys.stdout, "encoding", None) or "utf-8"
    marks = marks_for(encoding)
    kinds = {task.cls: task.kind for task in tasks}
    lines = []
    classes = list(dict.fromkeys(r.cls for r in results))
    for cls in classes:
        lines.append(cls + (" (the worked example, already complete)" if kinds.get(cls) == EXAMPLE else ""))
        lines += [f"  {marks[r.status]} {r.status:<4}  {r.name}" for r in results if r.cls == cls]

    failures = [next(r for r in results if r.cls == cls and r.status == "FAIL")
                for cls in classes if any(r.cls == cls and r.status == "FAIL" for r in results)]
    for failure in failures:
        lines += ["", f"{failure.name}: FAIL", indent(failure.detail), indent("Hint: " + failure.hint)]

    notes = [r for r in results if r.status == "pass" and r.hint]
    for note in notes:
        lines += ["", f"{note.name}: passed, with a note", indent(note.hint)]

    todos = [r for r in results if r.status == "TODO"]
    passed = sum(r.status == "pass" for r in results)
    if todos:
        lines += ["", f"{len(todos)} checks wait for code you have not written yet. Next: {todos[0].detail}"]
    elif passed == len(results):
        lines += ["", "Every check passed: your layers agree with the math. Time to train."]
    lines.append(f"{passed}/{len(results)} checks passed")
    report = "\n".join(lines)
    # The student's own text (an exception message, a line of code) may hold characters the console cannot print.
    return report.encode(encoding, errors="replace").decode(encoding)
