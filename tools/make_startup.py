"""Generate a chapter's startup/model.py (the students' file) from its solution/model.py and task table.

    python tools/make_startup.py           # write chapter03/startup/model.py
    python tools/make_startup.py --check   # exit 1 when the committed startup file differs from what would be written

How the solution file is marked up: coursekit/startup.py.
"""

import argparse
import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and the chapter's package

from coursekit.errors import KitError, run_command  # noqa: E402
from coursekit.files import shown_path, write_atomically  # noqa: E402
from coursekit.startup import MarkerError, make_startup  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the students' model.py from the reference model.py.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the startup file differs from what would be generated")
    parser.add_argument("--chapter", type=Path, default=REPO / "chapter03",
                        help="the chapter's folder, holding solution/, startup/ and common/tasks.py "
                             "(default: chapter03)")
    parser.add_argument("--solution", type=Path, help="the reference (default: <chapter>/solution/model.py)")
    parser.add_argument("--startup", type=Path, help="the file to generate (default: <chapter>/startup/model.py)")
    args = parser.parse_args(argv)
    solution = args.solution or args.chapter / "solution" / "model.py"
    startup = args.startup or args.chapter / "startup" / "model.py"
    return run_command(generate, solution, startup, args.chapter, args.check)


def chapter_tasks(chapter):
    """The task table of a chapter: TASKS in <chapter>/common/tasks.py, imported as the package <chapter>.common."""
    chapter = chapter.resolve()
    sys.path.insert(0, str(chapter.parent))
    try:
        return importlib.import_module(f"{chapter.name}.common.tasks").TASKS
    except ImportError as exc:
        raise KitError(f"make_startup: no task table in {shown_path(chapter)}/common/tasks.py ({exc}).") from None


def generate(solution, startup, chapter, check):
    tasks = chapter_tasks(chapter)
    try:
        expected = make_startup(solution.read_text(encoding="utf-8"), tasks)
    except OSError as exc:
        raise KitError(f"make_startup: cannot read {shown_path(solution)}: {exc.strerror}") from None
    except MarkerError as exc:
        raise KitError(f"make_startup: {shown_path(solution)}, {exc}. Nothing was written.") from None

    if not check:
        write_atomically(startup, lambda file: file.write(expected.encode("utf-8")))
        print(f"wrote {shown_path(startup)} from {shown_path(solution)}")
        return 0

    try:
        committed = startup.read_text(encoding="utf-8")  # newlines read as "\n", whatever git checked out
    except FileNotFoundError:
        committed = None
    if committed == expected:
        print(f"{shown_path(startup)} is up to date with {shown_path(solution)}")
        return 0
    why = "is missing" if committed is None else f"differs from it at line {first_difference(committed, expected)}"
    print(f"make_startup: {shown_path(startup)} is out of date: it should be generated from {shown_path(solution)} "
          f"but {why}.\nRegenerate it with `python tools/make_startup.py` (change the startup file only through "
          f"solution/model.py).", file=sys.stderr)
    return 1


def first_difference(a, b):
    """The 1-based number of the first line where the texts a and b differ."""
    a_lines, b_lines = a.split("\n"), b.split("\n")
    for number, (line_a, line_b) in enumerate(zip(a_lines, b_lines), start=1):
        if line_a != line_b:
            return number
    return min(len(a_lines), len(b_lines)) + 1


if __name__ == "__main__":
    sys.exit(main())
