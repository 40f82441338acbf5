"""The task table of chapter 3: the one place that says which classes students write, where the handout explains
them, and what they are worth. The stubs of startup/model.py, the checks, the report's "reread section N" and the
grader's points all come from here (coursekit/tasks.py says how).

To add a layer: write it between markers in solution/model.py, add its row here, write its checks in checks.py,
then run `python tools/make_startup.py`. README.md (section "Adding a task") walks through it.
"""

from coursekit.tasks import EXAMPLE, INTEGRATION, Task

HANDOUT = "chapter03/README.md"
FORWARD_BACKWARD = ("forward", "backward")

TASKS = [
    Task(1, "Linear", FORWARD_BACKWARD, section=1, points=26, handout=HANDOUT),
    Task(None, "ReLU", FORWARD_BACKWARD, section=None, points=0, handout=HANDOUT, kind=EXAMPLE),
    Task(2, "Sigmoid", FORWARD_BACKWARD, section=2, points=20, handout=HANDOUT),
    Task(3, "Softmax", FORWARD_BACKWARD, section=3, points=22, handout=HANDOUT),
    Task(4, "CrossEntropyLoss", FORWARD_BACKWARD, section=4, points=22, handout=HANDOUT),
    Task(None, "MLP", FORWARD_BACKWARD, section=None, points=10, handout=HANDOUT, kind=INTEGRATION),
]
TASK = {task.cls: task for task in TASKS}
