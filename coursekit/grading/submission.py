"""One submission: its checks, run here on a proxy of the student's module in a sandbox of its own, class by
class, and its verdicts: a result per check, the points they earn, and what went wrong with the student's process.
"""

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import gradcheck, report
from ..sandbox import Sandbox, StudentError
from ..student_code import explain_exception
from .assignment import StudentModule

NOT_RUN = "not run"


@dataclass
class Grade:
    """One submission: the results of its checks (by name), and why some did not run."""

    label: str  # the PATH it was given as
    student: str  # the name of its folder
    results: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    def status(self, name):
        result = self.results.get(name)
        return result.status if result else NOT_RUN

    def score(self, name, points):
        return points[name] if self.status(name) == "pass" else 0

    def total(self, points):
        return sum(self.score(name, points) for name in points)


def find_model_file(path, file_name):
    """(the file to grade, '') or (None, why there is none)."""
    if path.is_file():
        return path, ""
    if not path.is_dir():
        return None, f"{path} does not exist"
    if (path / file_name).is_file():
        return path / file_name, ""
    found = sorted(path.rglob(file_name))  # e.g. an upload that kept its folders
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"no {file_name} in {path}"
    return None, f"{len(found)} files named {file_name} in {path}: {', '.join(map(str, found))}"


def student_name(label):
    """The student a PATH stands for: its folder's name (the folder holding the file, for a file)."""
    path = Path(label).resolve()
    return path.parent.name if path.is_file() else path.name


def grade_submission(assignment, given, label, timeout, seed, lang=None, box=None):
    """Grade the submission at `label` (a file or a folder holding one) in a sandbox of its own (`box`, started for
    it beforehand, or a new one); given: the given classes, compiled (assignment.given_code)."""
    started = time.monotonic()
    grade = Grade(label, student_name(label))
    box = box or new_sandbox(assignment, timeout)
    try:
        model_file, problem = find_model_file(Path(label), assignment.file_name)
        if model_file is None:
            grade.problems.append(problem)
            return grade
        gradcheck.use_seed(seed)
        box.start()
        box.use(model_file)
        if box.import_error is not None:
            grade.problems.append(str(box.import_error))
        else:
            run_all_checks(box, assignment, given, model_file, timeout, grade, lang)
    finally:
        box.close()
    grade.seconds = time.monotonic() - started
    return grade


def new_sandbox(assignment, timeout):
    """A sandbox for one submission (not started): the checks of each class get `timeout` seconds, and the process
    at most that much CPU time for them all."""
    classes = len({check.cls for check in assignment.checks})
    return Sandbox(timeout=timeout, cpu_seconds=int(timeout * (classes + 1)) + 30)


def run_all_checks(box, assignment, given, model_file, timeout, grade, lang):
    """The checks, class by class, each class's sharing `timeout` seconds; results and problems into grade."""
    missing = [name for name in assignment.required if not safe_hasattr(box.module, name)]
    if missing:
        grade.problems.append(f"{model_file.name} defines no {' and no '.join(missing)}: is it the course's "
                              f"{assignment.file_name}, with your code in it?")
        return
    module = StudentModule(box.module, given, assignment.given)
    for cls, checks in itertools.groupby(assignment.checks, key=lambda check: check.cls):
        box.limit_time(timeout)
        first_event = len(box.events)
        for check in checks:
            if any(event.kind == "timeout" for event in box.events[first_event:]):
                grade.results[check.name] = report.CheckResult(cls, check.name, check.part, NOT_RUN,
                                                               f"the {cls} checks were stopped after {timeout:g} s")
                continue
            grade.results[check.name] = run_check(module, model_file, check, assignment.tasks, grade.results, lang)
        for message in problems_of(box.events[first_event:], cls, timeout):
            grade.problems.append(message)


def run_check(module, model_file, check, tasks, earlier, lang):
    """One check's result. run_checks never raises because of the student's code, except through a proxy outside
    its guard (hasattr(module, cls) when the student's process cannot answer): that is a FAIL too."""
    try:
        [result] = report.run_checks(module, model_file, [check], tasks, lang=lang, earlier=earlier)
    except StudentError as error:
        return report.CheckResult(check.cls, check.name, check.part, "FAIL", explain_exception(error, model_file))
    return result


def safe_hasattr(module, name):
    try:
        return hasattr(module, name)
    except StudentError:
        return False


def problems_of(events, cls, timeout):
    """What went wrong with the student's process during the checks of cls, one line per kind of trouble."""
    problems = []
    for event in events:
        if event.kind == "timeout":
            text = f"stopped after {timeout:g} s during the {cls} checks (an endless loop?)"
        elif event.kind == "ended":
            text = f"{event.message.replace(' during this call', f' during the {cls} checks')}"
        else:
            text = f"{event.message} during the {cls} checks"
        if text not in problems:
            problems.append(text)
    return problems
