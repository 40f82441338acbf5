"""A chapter's task table: the classes students write (or get complete), their handout sections and points."""

from dataclasses import dataclass

from .errors import KitError

TASK, EXAMPLE, INTEGRATION = "task", "example", "integration"  # the kinds of row


@dataclass(frozen=True)
class Task:
    """A class of the student's model.py. number: None for a class given complete; methods: a stub each; kind: TASK,
    EXAMPLE (given complete) or INTEGRATION (given complete; runs the student's layers together)."""

    number: object
    cls: str
    methods: tuple
    section: object
    points: int
    handout: str = ""
    kind: str = TASK

    def where(self, method):  # what a stub says
        return f"Task {self.number}: {self.cls}.{method}, see {self.handout} section {self.section}"


def student_tasks(tasks):
    return sorted((t for t in tasks if t.kind == TASK), key=lambda t: t.number)


def stubs(tasks):
    """(task, method) of every stub of the startup file, in task order."""
    return [(task, method) for task in student_tasks(tasks) for method in task.methods]


def check_points(tasks, checks):
    """{check name: points}: each row's points shared by its checks in proportion to their weight, in whole points
    (the first checks get the remainder). KitError when the table and the checks disagree or the total is not 100."""
    classes, checked = {task.cls for task in tasks}, {check.task.cls for check in checks}
    numbers, total = [task.number for task in student_tasks(tasks)], sum(task.points for task in tasks)
    in_order = numbers == list(range(1, len(numbers) + 1))
    problems = [] if in_order else [f"the tasks are numbered {numbers}, not 1 to {len(numbers)}"]
    problems += [f"the checks of {cls} have no row in the task table" for cls in sorted(checked - classes)]
    problems += [f"{task.cls} is worth {task.points} points but none of its checks carries any weight"
                 for task in tasks if task.points and not any(c.weight for c in checks if c.task.cls == task.cls)]
    problems += [f"the points of the task table add up to {total}, not 100"] if total != 100 else []
    if problems:
        raise KitError("The task table and the checks disagree: " + "; ".join(problems) + ".")
    points = {}
    for task in tasks:
        group = [check for check in checks if check.task.cls == task.cls]
        weights = sum(check.weight for check in group)
        shares = [task.points * check.weight // weights for check in group]
        weighted = [i for i, check in enumerate(group) if check.weight]
        for i in range(task.points - sum(shares)):  # the remainder, one point each, to the first weighted checks
            shares[weighted[i % len(weighted)]] += 1
        points.update({check.name: share for check, share in zip(group, shares)})
    return points
