"""Grading students' files with a chapter's checks, the student's code in a sandbox (coursekit/sandbox/).

    python chapterNN/grade.py PATH [PATH ...] [--json results.json] [--csv grades.csv] [--jobs N] ...

A chapter's grade.py describes its assignment (an Assignment: task table, checks, reference solution) and calls
main(). For each submission, one sandbox: the student's file is imported in a process of its own, and the checks run
HERE, in the grader, on a proxy of the student's module. The grader draws the inputs (from a seed drawn for each
run), computes the expected values and decides; the student's process only turns inputs into outputs. The classes
given complete (e.g. MLP) are the reference's, built here on the student's layers: a student who edited one is
graded on the layers alone. Points come from the task table (coursekit/tasks.py: check_points).

The checks of each class share --timeout seconds: when they run out (an endless loop), the student's process is
killed, the class's remaining checks are "not run", and the next class starts with a new process. A syntax error, a
crash or a sys.exit() costs only the points of the checks it breaks.

The modules:
- command_line.py  main(): the options, the run, the files written
- assignment.py    Assignment; the points, this run's seed, what grading takes from the reference solution
- submission.py    one submission: its checks in a sandbox, class by class; Grade, its results and points
- batch.py         --jobs: submissions graded in worker processes, in parallel
- results.py       the table, the summary, the CSV, Gradescope's results.json
- protection.py    what protects the grader (said in one line); as root, the paths made private; the kit's hashes
"""

from .assignment import Assignment
from .command_line import main

__all__ = ["Assignment", "main"]
