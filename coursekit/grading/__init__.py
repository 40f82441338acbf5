"""Grading students' files with a chapter's checks, the student's code in a sandbox (coursekit/sandbox/).

A chapter's grade.py describes its assignment (an Assignment) and calls main(). Each submission's file is imported
in a process of its own; the checks run HERE, on a proxy of the student's module: the grader draws the inputs,
computes the expected values and decides. The classes given complete (e.g. MLP) are the reference's, built here on
the student's layers. The checks of each class share --timeout seconds; a syntax error, a crash or a sys.exit()
costs only the points of the checks it breaks.
command_line.py main(), what protects the grader; assignment.py points, seed, the given classes; submission.py one
submission's checks; batch.py --jobs; results.py table, CSV, results.json; similarity.py copies found.
"""

from .assignment import Assignment
from .command_line import main

__all__ = ["Assignment", "main"]
