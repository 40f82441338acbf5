"""startup/model.py from solution/model.py and the task table: each region `# BEGIN SOLUTION Task N` ... `# END
SOLUTION` becomes its hint (`# Hint: ...`, continued by comment lines indented '#  ') and a stub naming the task and
the handout section: `raise NotImplementedError("Task 3: Softmax.backward, see chapter03/README.md section 3")`."""

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
    """The solution's markers are malformed, or do not match the task table."""


def make_startup(solution_text, tasks):
    """The text of startup/model.py for the text of solution/model.py; MarkerError when its markers are wrong."""
    numbered = {str(task.number): task for task in student_tasks(tasks)}
    stubbed, output = [], []  # (task, method) of each region, in file order; the lines of the startup file
    region = None  # inside a region: {"line", "indent", "task", "method", "hint_open"}
    class_name = function_name = method_name = None
    for number, line in enumerate(solution_text.rstrip("\n").split("\n"), start=1):
        if LOOKS_LIKE_MARKER.search(line):
            region = marker(number, line, region, numbered, function_name, method_name, output, stubbed)
        elif region:
            if number == region["line"] + 1 and not HINT.match(line):
                raise MarkerError(f"line {number}: the region of {region['task'].where(region['method'])} must "
                                  f"start with its hint, a comment '# Hint: ...'")
            region["hint_open"] = region["hint_open"] and bool(HINT.match(line) or HINT_CONTINUED.match(line))
            if region["hint_open"]:
                output.append(line)  # the hint stays, for the student; the reference code is left out
        else:
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
    missing = [f"no region for {task.where(method)}" for task, method in stubs(tasks) if (task, method) not in stubbed]
    if missing:  # that method's reference code would be handed out
        raise MarkerError("the regions do not match the task table: " + "; ".join(missing))
    return "\n".join(output) + "\n"


def marker(number, line, region, numbered, function_name, method_name, output, stubbed):
    """A BEGIN (the region it opens) or an END (None: it closes the region, whose stub goes to output)."""
    begin, end = BEGIN.match(line.rstrip()), END.match(line.rstrip())
    if begin:
        if region:
            raise MarkerError(f"line {number}: BEGIN SOLUTION inside the region opened at line {region['line']} "
                              f"(is an END SOLUTION missing?)")
        task = numbered.get(begin["task"])
        if task is None or function_name != f"{task.cls}.{method_name}" or method_name not in task.methods:
            table = "; ".join(f"Task {t.number}: {t.cls} ({', '.join(t.methods)})" for t in numbered.values())
            raise MarkerError(f"line {number}: this region of Task {begin['task']} is in "
                              f"{function_name or 'no function'}, no method of that task in the task table ({table})")
        return {"line": number, "indent": begin["indent"], "task": task, "method": method_name, "hint_open": True}
    if not end:
        raise MarkerError(f"line {number}: a marker must read exactly '# BEGIN SOLUTION Task N' or "
                          f"'# END SOLUTION', not {line.strip()!r}")
    if not region:
        raise MarkerError(f"line {number}: END SOLUTION without a BEGIN SOLUTION before it")
    output.append(f'{region["indent"]}raise NotImplementedError("{region["task"].where(region["method"])}")')
    stubbed.append((region["task"], region["method"]))
    return None

