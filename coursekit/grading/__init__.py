"""Grading with a chapter's checks: the chapter's grade.py describes its Assignment and calls main(). Each submission
is imported in a sandbox of its own (coursekit/sandbox/); the checks run here, on a proxy of it: the grader draws the
inputs, computes the expected values and decides. command_line.py main(); assignment.py points, seed, the given
classes; submission.py the checks, --jobs; results.py the table, CSV, results.json; similarity.py copies found."""

from .assignment import Assignment
from .command_line import main

__all__ = ["Assignment", "main"]
