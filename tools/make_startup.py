"""Generate a chapter's startup/model.py (the students' file) from its solution/model.py and task table (markup:
coursekit/startup.py); --check, --force: see --help. The SHA-256 of what it wrote is kept beside it
(startup/.model.py.sha256, as `sha256sum` writes it): a startup file without that hash was changed since (a student's
work) and is never overwritten without --force."""

import argparse
import contextlib
import hashlib
import importlib
import itertools
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOL = "python tools/make_startup.py"
sys.path.insert(0, str(REPO))  # `import coursekit` and the chapter's package

from coursekit.errors import KitError, run_command  # noqa: E402
from coursekit.files import refuse_folder, shown_path, write_atomically  # noqa: E402
from coursekit.startup import MarkerError, make_startup  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the students' model.py from the reference model.py (for "
                                                 "maintainers); a startup file holding a student's work is kept.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the startup file differs from what would be generated")
    action.add_argument("--force", action="store_true",
                        help="write it even if it was changed since it was generated, after keeping a copy of it "
                             "beside it (model.py.<date-time>.bak)")
    parser.add_argument("--chapter", type=Path, default=REPO / "chapter03",
                        help="the chapter's folder, with solution/, startup/ and common/tasks.py (default: chapter03)")
    parser.add_argument("--solution", type=Path, help="the reference (default: <chapter>/solution/model.py)")
    parser.add_argument("--startup", type=Path, help="the file to generate (default: <chapter>/startup/model.py)")
    args = parser.parse_args(argv)
    solution = args.solution or args.chapter / "solution" / "model.py"
    startup = args.startup or args.chapter / "startup" / "model.py"
    if args.check:
        return run_command(check, solution, startup, args.chapter)
    return run_command(generate, solution, startup, args.chapter, args.force)


def expected_text(solution, chapter):
    """The text the startup file should hold, from the solution and <chapter>/common/tasks.py's TASKS."""
    chapter = chapter.resolve()
    sys.path.insert(0, str(chapter.parent))
    try:
        tasks = importlib.import_module(f"{chapter.name}.common.tasks").TASKS
    except ImportError as exc:
        raise KitError(f"make_startup: no task table in {shown_path(chapter)}/common/tasks.py ({exc}).") from None
    try:
        return make_startup(solution.read_text(encoding="utf-8"), tasks)
    except (OSError, UnicodeDecodeError) as exc:
        raise KitError(f"make_startup: {shown_path(solution)} is not UTF-8 text "
                       f"({getattr(exc, 'strerror', None) or exc}). Nothing was written.") from None
    except MarkerError as exc:
        raise KitError(f"make_startup: {shown_path(solution)}, {exc}. Nothing was written.") from None


def record_path(startup):
    return startup.with_name(f".{startup.name}.sha256")


def digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_digest(startup):
    try:
        return (record_path(startup).read_text(encoding="utf-8").split() or [None])[0]
    except (OSError, UnicodeDecodeError):
        return None


def read_text(path):
    """The startup file's text; None when there is none. Text that is not UTF-8 is someone's: kept as changed."""
    refuse_folder(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        return path.read_bytes().decode("utf-8", errors="replace") + f"\n# not UTF-8: {exc.reason}"


def changed_since_generated(startup, current):
    return current is not None and digest(current) != recorded_digest(startup)


def generate(solution, startup, chapter, force):
    """Write the startup file and its record, unless it holds changes made since it was generated (then: force)."""
    expected = expected_text(solution, chapter)
    current = read_text(startup)
    if current != expected:
        if changed_since_generated(startup, current):
            if not force:
                raise KitError(
                    f"make_startup: {shown_path(startup)} was changed after it was generated (on a student's "
                    f"checkout: the student's code), so it was not overwritten; nothing was written.\n"
                    f"Students: you never need this tool, your file is untouched.\n"
                    f"Maintainers: change the startup file through {shown_path(solution)}. To replace this one "
                    f"anyway, --force keeps a copy of it beside it first.")
            print(f"kept a copy of the changed {shown_path(startup)} in {shown_path(keep_backup(startup))}")
        write_atomically(startup, lambda file: file.write(expected.encode("utf-8")))
        print(f"wrote {shown_path(startup)} from {shown_path(solution)}")
    else:
        print(f"{shown_path(startup)} is up to date with {shown_path(solution)}: nothing to write.")
    if recorded_digest(startup) != digest(expected):
        record = f"{digest(expected)}  {startup.name}\n"
        write_atomically(record_path(startup), lambda file: file.write(record.encode("utf-8")))
    return 0


def keep_backup(path):
    """Copy path to path.<date-time>.bak beside it, under a name no file has yet; returns the copy's path."""
    content, stamp = path.read_bytes(), time.strftime("%Y%m%d-%H%M%S")
    for number in itertools.count(1):
        backup = path.with_name(f"{path.name}.{stamp}{'' if number == 1 else f'-{number}'}.bak")
        with contextlib.suppress(FileExistsError), open(backup, "xb") as file:  # "x": never over another file
            file.write(content)
            return backup


def check(solution, startup, chapter):
    """Exit 0 when the startup file and its record are what the tool would write; else 1, saying why."""
    expected = expected_text(solution, chapter)
    current = read_text(startup)
    if current == expected and recorded_digest(startup) == digest(expected):
        print(f"{shown_path(startup)} is up to date with {shown_path(solution)}")
        return 0
    line = next((n for n, (a, b) in enumerate(zip((current or "").split("\n"), expected.split("\n")), 1) if a != b),
                None)
    if current == expected:
        why = f"its record {shown_path(record_path(startup))} is missing or stale; `{TOOL}` writes it (only)"
    elif current is None:
        why = f"it is missing; `{TOOL}` writes it"
    elif changed_since_generated(startup, current):
        why = (f"it differs from it at line {line} and was changed after it was generated (a student's work, on a "
               f"student's checkout); change the solution file only, then regenerate it (not without --force)")
    else:
        why = f"it differs from it at line {line}: the solution file changed since; regenerate it with `{TOOL}`"
    print(f"make_startup: {shown_path(startup)} is out of date: it should be generated from {shown_path(solution)} "
          f"but {why}.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
