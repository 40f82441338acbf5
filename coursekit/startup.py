"""Generate a chapter's startup/model.py (the students' file) from its solution/model.py and its task table.

In solution/model.py each piece a student writes sits between two markers, its hint right after the first one:

        # BEGIN SOLUTION Task 3
        # Hint: what to compute, with which shapes, what to keep for backward.
        #   A hint goes on over the lines that follow it and start with '#' and two spaces or more.
        ...the reference code...
        # END SOLUTION

In startup/model.py that region becomes its hint and a stub naming the task and the handout section (from the
task table):

        # Hint: what to compute, with which shapes, what to keep for backward.
        #   A hint goes on over the lines that follow it and start with '#' and two spaces or more.
        raise NotImplementedError("Task 3: Softmax.backward, see chapter03/README.md section 3")

Everything outside the regions is copied unchanged, so `diff -u solution/model.py startup/model.py` shows an
instructor exactly the TODOs. Every method of every task in the table has exactly one region.
"""

import re

from .tasks import stubs, student_tasks

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


def make_startup(solution_text, tasks):
    """The text of startup/model.py for the text of solution/model.py and the chapter's task table.

    Raises MarkerError on malformed markers, and when the regions and the table's tasks disagree."""
    numbered = {str(task.number): task for task in student_tasks(tasks)}
    stubbed = []  # (task, method) of each region, in file order
    lines = solution_text.rstrip("\n").split("\n")
    output = []
    region = None  # while inside a region: {"line", "indent", "task", "where"}
    hint_open = False  # True while the lines after BEGIN are still the region's hint
    class_name = function_name = method_name = None
    for number, line in enumerate(lines, start=1):
        if LOOKS_LIKE_MARKER.search(line):
            begin, end = BEGIN.match(line.rstrip()), END.match(line.rstrip())
            if begin:
                if region:
                    raise MarkerError(f"line {number}: BEGIN SOLUTION inside the region opened at line "
                                      f"{region['line']} (is an END SOLUTION missing?)")
                if function_name is None:
                    raise MarkerError(f"line {number}: a solution region must be inside a function or method")
                task = numbered.get(begin["task"])
                if task is None:
                    raise MarkerError(f"line {number}: Task {begin['task']} is not in the task table "
                                      f"(tasks: {', '.join(numbered) or 'none'})")
                if function_name != f"{task.cls}.{method_name}" or method_name not in task.methods:
                    raise MarkerError(f"line {number}: Task {task.number} is {task.cls} "
                                      f"({', '.join(task.methods)}) in the task table, but this region is in "
                                      f"{function_name}")
                region = {"line": number, "indent": begin["indent"], "task": task, "method": method_name}
                hint_open = True
                continue
            if end:
                if not region:
                    raise MarkerError(f"line {number}: END SOLUTION without a BEGIN SOLUTION before it")
                if hint_open:
                    raise MarkerError(f"line {number}: the region opened at line {region['line']} has no code")
                output.append(stub(region["indent"], region["task"], region["method"]))
                stubbed.append((region["task"], region["method"]))
                region = None
                continue
            raise MarkerError(f"line {number}: a marker must read exactly '# BEGIN SOLUTION Task N' or "
                              f"'# END SOLUTION', not {line.strip()!r}")
        if region:
            if number == region["line"] + 1 and not HINT.match(line):
                raise MarkerError(f"line {number}: the region of {region['task'].where(region['method'])} must "
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
            method_name = def_match["name"]
            function_name = f"{class_name}.{method_name}" if def_match["indent"] and class_name else method_name
        output.append(line)
    if region:
        raise MarkerError(f"line {region['line']}: BEGIN SOLUTION is never closed by an END SOLUTION")
    if not stubbed:
        raise MarkerError("no solution regions: mark each one with '# BEGIN SOLUTION Task N' ... '# END SOLUTION'")
    missing = [task.where(method) for task, method in stubs(tasks) if (task, method) not in stubbed]
    twice = {task.where(method) for task, method in stubbed if stubbed.count((task, method)) > 1}
    if missing or twice:
        raise MarkerError("the regions do not match the task table: "
                          + "; ".join([*(f"no region for {w}" for w in missing), *(f"two regions for {w}" for w in
                                                                                  sorted(twice))]))
    startup_text = "\n".join(output) + "\n"
    try:
        compile(startup_text, "startup/model.py", "exec")
    except SyntaxError as exc:
        raise MarkerError(f"the generated startup file would not run: {exc.msg}, line {exc.lineno}") from None
    return startup_text


def stub(indent, task, method):
    """The line that replaces a region's code: raise NotImplementedError naming the task and the handout section."""
    return f'{indent}raise NotImplementedError("{task.where(method)}")'
