"""Grade students' model.py files with chapter 3's checks: points per check, each submission in a sandbox.

    python chapter03/grade.py PATH [PATH ...] [--json results.json] [--csv grades.csv] [--timeout S] [--jobs N]
                              [--visibility V] [--lang zh|en] [--similarity | --no-similarity] [--threshold F]

Each PATH is a student's model.py, or a folder holding one. --help says what protects the grader on each OS; the
first line of a run says what holds on this one. Exit status: 0 whenever it could grade; 1 when it could not; 2 a bad
command line; 130 interrupted. INSTRUCTORS.md shows a session and the Gradescope zip (tools/make_autograder.py).
"""

import sys

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
