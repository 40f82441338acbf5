"""An assignment as grading sees it: its tasks and checks, their points, this run's seed, the classes given complete."""

import ast
import builtins
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import gradcheck, report
from ..errors import KitError
from ..student_code import load_model_module
from ..tasks import check_points


@dataclass(frozen=True)
class Assignment:
    """tasks, checks: the task table and the checks (coursekit/tasks.py, coursekit/report.py); solution: the
    reference file, whose classes named in `given` (e.g. ("Module", "MLP")) replace the student's; required: names
    every submission defines (without them it is no model.py); file_name: the file students submit."""

    tasks: list
    checks: list
    solution: Path
    given: tuple = ()
    required: tuple = ()
    file_name: str = "model.py"


def points_and_seed(assignment, tries=10):
    """({check name: points}, the seed of this run's inputs): a seed nobody can know before the run (no output can
    be hard-coded), with which the reference passes every check (unlucky inputs would be unlucky for students too)."""
    table = check_points(assignment.tasks, assignment.checks)
    points = {check.name: table[check.name] for check in assignment.checks}  # in the order the checks run
    solution = load_model_module(assignment.solution)
    for _ in range(tries):
        seed = secrets.randbits(32)
        gradcheck.use_seed(seed)
        results = report.run_checks(solution, assignment.solution, assignment.checks, assignment.tasks)
        failing = [result.name for result in results if result.status != "pass"]
        if not failing:
            return points, seed
    raise KitError(f"The reference solution fails {', '.join(failing)} (with {tries} different seeds): fix the kit "
                   f"before grading.")


def given_code(assignment):
    """The reference's classes named in assignment.given, compiled: the grader runs them on the student's layers."""
    source = Path(assignment.solution).read_text(encoding="utf-8")
    classes = [node for node in ast.parse(source).body
               if isinstance(node, ast.ClassDef) and node.name in assignment.given]
    missing = set(assignment.given) - {node.name for node in classes}
    if missing:
        raise KitError(f"{assignment.solution} has no class {', '.join(sorted(missing))}.")
    return compile(ast.Module(body=classes, type_ignores=[]), str(assignment.solution), "exec")


class StudentModule(dict):
    """What the checks see as the student's module, and the globals of the given classes: those classes (the
    reference's), NumPy, and any other name (Linear, Sigmoid...) looked up in the student's module when used, so that
    a new student's process (after a time-out) is used."""

    def __init__(self, remote, code):
        super().__init__(np=np, __builtins__=builtins)
        self.remote = remote
        exec(code, self)

    def __missing__(self, name):
        if hasattr(builtins, name):
            raise KeyError(name)  # Python then finds it among the builtins
        try:
            return getattr(self.remote, name)
        except AttributeError:
            raise KeyError(name) from None

    def __getattr__(self, name):
        return self[name] if name in self else getattr(self.remote, name)
