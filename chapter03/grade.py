"""Grade students' model.py files with chapter 3's checks, each in a sandbox: `python chapter03/grade.py --help`.
INSTRUCTORS.md shows a session, what is guaranteed, and the Gradescope zip (tools/make_autograder.py).
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

ASSIGNMENT = Assignment(tasks=TASKS, checks=CHECKS, solution=CHAPTER / "solution" / "model.py",
                        given=("Module", "MLP"),  # given complete: the reference's, built on the student's layers
                        required=("Parameter", "Module"))  # without these, the file is not this chapter's model.py

if __name__ == "__main__":
    sys.exit(main(ASSIGNMENT, prog="python chapter03/grade.py"))
