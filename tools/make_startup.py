"""Generate chapter03/startup/model.py (the students' file) from chapter03/solution/model.py.

In solution/model.py each piece a student writes sits between two markers, its hint right after the first one:

        # BEGIN SOLUTION Task 3
        # Hint: what to compute, with which shapes, what to keep for backward.
        #   A hint goes on over the lines that follow it and start with '#' and two spaces or more.
        ...the reference code...
        # END SOLUTION

In startup/model.py that region becomes its hint and a stub naming the task and the handout section:

        # Hint: what to compute, with which shapes, what to keep for backward.
        #   A hint goes on over the lines that follow it and start with '#' and two spaces or more.
        raise NotImplementedError("Task 3: Softmax.backward, see README section 3")

Everything outside the regions is copied unchanged, so `diff -u chapter03/solution/model.py chapter03/startup/model.py`
shows an instructor exactly the TODOs.

    python tools/make_startup.py           # write chapter03/startup/model.py
    python tools/make_startup.py --check   # exit 1 when the committed startup file differs from what would be written
"""

import argparse
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTION = REPO / "chapter03" / "solution" / "model.py"
STARTUP = REPO / "chapter03" / "startup" / "model.py"

# Anything that looks like a marker is found loosely, then must be spelled exactly: a typo is an error, not code.
LOOKS_LIKE_MARKER = re.compile(r"#\s*(BEGIN|END)\s*SOLUTION", re.IGNORECASE)
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION Task (?P<task>[1-9][0-9]*)$")
END = re.compile(r"^[ \t]*# END SOLUTION$")
HINT = re.compile(r"^[ \t]*# Hint: \S")
HINT_CONTINUED = re.compile(r"^[ \t]*#  +\S")
CLASS = re.compile(r"^class (?P<name>\w+)")
DEF = re.compile(r"^(?P<indent>[ \t]*)def (?P<name>\w+)")


class MarkerError(ValueError):
    """The solution file's markers are malformed: unbalanced, misspelled, or a region without its hint."""


def stub(indent, task, where):
    """The line that replaces a region's code: raise NotImplementedError naming the task and the README section."""
    return f'{indent}raise NotImplementedError("Task {task}: {where}, see README section {task}")'


def make_startup(solution_text):
    """The text of startup/model.py for the text of solution/model.py. Raises MarkerError on malformed markers."""
    lines = solution_text.rstrip("\n").split("\n")
    output = []
    region = None  # while inside a region: {"line", "indent", "task", "where"}
    hint_open = False  # True while the lines after BEGIN are still the region's hint
    class_name = function_name = None
    regions = 0
    for number, line in enumerate(lines, start=1):
        if LOOKS_LIKE_MARKER.search(line):
            begin, end = BEGIN.match(line.rstrip()), END.match(line.rstrip())
            if begin:
                if region:
                    raise MarkerError(f"line {number}: BEGIN SOLUTION inside the region opened at line "
                                      f"{region['line']} (is an END SOLUTION missing?)")
                if function_name is None:
                    raise MarkerError(f"line {number}: a solution region must be inside a function or method")
                region = {"line": number, "indent": begin["indent"], "task": begin["task"], "where": function_name}
                hint_open = True
                continue
            if end:
                if not region:
                    raise MarkerError(f"line {number}: END SOLUTION without a BEGIN SOLUTION before it")
                if hint_open:
                    raise MarkerError(f"line {number}: the region opened at line {region['line']} has no code")
                output.append(stub(region["indent"], region["task"], region["where"]))
                region = None
                regions += 1
                continue
            raise MarkerError(f"line {number}: a marker must read exactly '# BEGIN SOLUTION Task N' or "
                              f"'# END SOLUTION', not {line.strip()!r}")
        if region:
            if number == region["line"] + 1 and not HINT.match(line):
                raise MarkerError(f"line {number}: the region of Task {region['task']} ({region['where']}) must "
                                  f"start with its hint, a comment '# Hint: ...'")
            if hint_open and (HINT.match(line) or HINT_CONTINUED.match(line)):
                output.append(line)  # the hint stays, for the student
            else:
                hint_open = False  # the reference code, left out of the startup file
            continue
        class_match, def_match = CLASS.match(line), DEF.match(line)
        if class_match:
            class_name, function_name = class_match["name"], None
        elif def_match:
            method = def_match["indent"] and class_name
            function_name = f"{class_name}.{def_match['name']}" if method else def_match["name"]
        output.append(line)
    if region:
        raise MarkerError(f"line {region['line']}: BEGIN SOLUTION is never closed by an END SOLUTION")
    if regions == 0:
        raise MarkerError("no solution regions: mark each one with '# BEGIN SOLUTION Task N' ... '# END SOLUTION'")
    startup_text = "\n".join(output) + "\n"
    try:
        compile(startup_text, "startup/model.py", "exec")
    except SyntaxError as exc:
        raise MarkerError(f"the generated startup file would not run: {exc.msg}, line {exc.lineno}") from None
    return startup_text


def first_difference(a, b):
    """The 1-based number of the first line where the texts a and b differ."""
    a_lines, b_lines = a.split("\n"), b.split("\n")
    for number, (line_a, line_b) in enumerate(zip(a_lines, b_lines), start=1):
        if line_a != line_b:
            return number
    return min(len(a_lines), len(b_lines)) + 1


def shown(path):
    """path relative to the repository when it is inside it (shorter messages), else as given."""
    try:
        return Path(path).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def write_atomically(path, text):
    """Write text to path through a temporary file, so that an interrupted run never leaves half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8", newline="\n")
    os.replace(temporary, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the students' model.py from the reference model.py.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the startup file differs from what would be generated")
    parser.add_argument("--solution", type=Path, default=SOLUTION, help="the reference (default: %(default)s)")
    parser.add_argument("--startup", type=Path, default=STARTUP, help="the file to generate (default: %(default)s)")
    args = parser.parse_args(argv)

    try:
        expected = make_startup(args.solution.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"make_startup: cannot read {shown(args.solution)}: {exc.strerror}", file=sys.stderr)
        return 1
    except MarkerError as exc:
        print(f"make_startup: {shown(args.solution)}, {exc}. Nothing was written.", file=sys.stderr)
        return 1

    if not args.check:
        write_atomically(args.startup, expected)
        print(f"wrote {shown(args.startup)} from {shown(args.solution)}")
        return 0

    try:
        committed = args.startup.read_text(encoding="utf-8")  # newlines read as "\n", whatever git checked out
    except FileNotFoundError:
        committed = None
    if committed == expected:
        print(f"{shown(args.startup)} is up to date with {shown(args.solution)}")
        return 0
    why = "is missing" if committed is None else f"differs from it at line {first_difference(committed, expected)}"
    print(f"make_startup: {shown(args.startup)} is out of date: it should be generated from {shown(args.solution)} "
          f"but {why}.\nRun `python tools/make_startup.py` to regenerate it (change the startup file only through "
          f"solution/model.py: hand edits of the startup file are overwritten).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
