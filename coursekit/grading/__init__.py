"""Grading with a chapter's checks: a chapter's grade.py describes its Assignment and calls main(); each
submission is imported in a sandbox of its own, the checks run here on a proxy of it (MAINTAINING.md: the files)."""

from .assignment import Assignment
from .command_line import main

__all__ = ["Assignment", "main"]
