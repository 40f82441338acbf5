"""Grading submissions: each one's checks run here, class by class, on a proxy of the student's module in a sandbox
of its own; a batch `--jobs` at a time, in worker processes forked from the grader, the grades in the PATHs' order."""

import concurrent.futures
import itertools
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import gradcheck, report
from ..errors import KitError
from ..sandbox import Sandbox, StudentError, users
from ..student_code import explain_exception
from .assignment import StudentModule, given_code

NOT_RUN = "not run"
_job = None  # grade_submission's arguments but the label, set by grade_in_parallel for the workers it forks


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


def grade_submission(assignment, given, timeout, seed, lang, label):
    """Grade the submission at `label` (a file or a folder holding one) in a sandbox of its own; given: the given
    classes, compiled (assignment.given_code). The process gets `timeout` CPU seconds per class, and some more."""
    started = time.monotonic()
    path = Path(label).resolve()
    grade = Grade(label, student=path.parent.name if path.is_file() else path.name)
    classes = len({check.cls for check in assignment.checks})
    box = Sandbox(timeout=timeout, cpu_seconds=int(timeout * (classes + 1)) + 30)
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


def run_all_checks(box, assignment, given, model_file, timeout, grade, lang):
    """The checks, class by class, each class's sharing `timeout` seconds; results and problems into grade."""
    try:
        missing = [name for name in assignment.required if not hasattr(box.module, name)]
    except StudentError:  # a module __getattr__ that raises or never returns
        missing = list(assignment.required)
    if missing:
        grade.problems.append(f"{model_file.name} defines no {' and no '.join(missing)}: is it the course's "
                              f"{assignment.file_name}, with your code in it?")
        return
    module = StudentModule(box.module, given)
    for cls, checks in itertools.groupby(assignment.checks, key=lambda check: check.cls):
        box.limit_time(timeout)
        first_event = len(box.events)
        for check in checks:
            if any(event.kind == "timeout" for event in box.events[first_event:]):
                result = report.CheckResult(cls, check.name, check.part, NOT_RUN,
                                            f"the {cls} checks were stopped after {timeout:g} s")
            else:
                try:
                    [result] = report.run_checks(module, model_file, [check], assignment.tasks, lang=lang,
                                                 earlier=grade.results)
                except StudentError as error:  # from a proxy outside run_checks' guard: hasattr(module, cls)
                    result = report.CheckResult(cls, check.name, check.part, "FAIL",
                                                explain_exception(error, model_file))
            grade.results[check.name] = result
        for event in box.events[first_event:]:  # what went wrong with the student's process, once per kind
            if event.kind == "timeout":
                text = f"stopped after {timeout:g} s during the {cls} checks (an endless loop?)"
            elif event.kind == "ended":
                text = event.message.replace(" during this call", f" during the {cls} checks")
            else:
                text = f"{event.message} during the {cls} checks"
            if text not in grade.problems:
                grade.problems.append(text)


def can_fork():
    return not users.WINDOWS and "fork" in multiprocessing.get_all_start_methods()


def grade_in_parallel(assignment, labels, timeout, seed, jobs, lang):
    """Yield the grade of each label, in order, each as soon as it and those before it are ready. The workers are
    processes (the checks set process-wide state: NumPy's warnings, the seed) forked with the kit loaded before any
    student's code ran; where there is no fork (Windows), one at a time here."""
    global _job
    _job = (assignment, given_code(assignment), timeout, seed, lang)
    if not can_fork():
        yield from map(grade_in_worker, labels)
        return
    fork = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(min(jobs, len(labels)), mp_context=fork) as pool:
        try:
            yield from pool.map(grade_in_worker, labels)
        except concurrent.futures.process.BrokenProcessPool:  # only code that could signal it: not as root
            raise KitError("A worker of the grader was killed (by a submission? not run as root, their code can "
                           "signal your processes): grade as root in a container, as Gradescope does.") from None


def grade_in_worker(label):
    return grade_submission(*_job, label)
