"""Grade students' model.py files with chapter 3's checks: points per check, each submission in a sandbox.

    python chapter03/grade.py PATH [PATH ...] [--json results.json] [--csv grades.csv] [--timeout S] [--jobs N]
                              [--visibility V] [--lang zh|en]

Each PATH is a student's model.py, or a folder holding one. Each submission is imported in a process of its own,
which only turns the grader's inputs into outputs: the checks, their inputs (from a seed drawn for each run) and the
verdicts stay here (coursekit/grading/, coursekit/sandbox/). A syntax error, an endless loop or a sys.exit()
costs only the points of the checks it breaks or keeps from running, and the batch goes on. MLP is given to
students: the grader runs the reference MLP on the student's layers, so a student who edited it is graded on the
layers alone. Points come from the task table (common/tasks.py).

Run as root (Docker, Gradescope), each submission runs as an unprivileged user of its own that cannot read the
solution, the checks, the results or another submission. Not as root, it runs as you (--help says what that means).

Exit status: 0 whenever it could grade (whatever the scores); 1 when it could not (no PATH exists, the kit is
broken, or its files changed while grading); 2 for a bad command line; 130 interrupted. README.md (section
"Grading") shows a session and how to build the Gradescope autograder (tools/make_autograder.py).
"""

import sys

# First, so that Pythons 3.6 to 3.8 print this one line rather than a traceback (older ones cannot read the f-strings
# below at all).
if sys.version_info < (3, 9):  # noqa: UP036 (ruff assumes the oldest supported Python; this line is for older ones)
    sys.exit("This course kit needs Python 3.9 or newer; this is Python " + sys.version.split()[0] + " ("
             + sys.executable + "). README.md, section 'Supported Python', says more.")

from pathlib import Path

CHAPTER = Path(__file__).resolve().parent
sys.path.insert(0, str(CHAPTER.parent))  # `import coursekit` and `chapter03.common`, as main.py does

from chapter03.common.checks import CHECKS  # noqa: E402
from chapter03.common.tasks import TASKS  # noqa: E402
from coursekit.grading import Assignment, main  # noqa: E402

ASSIGNMENT = Assignment(
    tasks=TASKS,
    checks=CHECKS,
    solution=CHAPTER / "solution" / "model.py",
    given=("Module", "MLP"),  # given complete: the grader uses the reference's, built on the student's layers
    required=("Parameter", "Module"),  # without these, the file is not this chapter's model.py
)

if __name__ == "__main__":
    sys.exit(main(ASSIGNMENT, prog="python chapter03/grade.py"))
