"""The task table of chapter 3: which classes students write, their handout sections and points; the stubs, checks,
"reread section N" and grading points come from it. Adding a layer: MAINTAINING.md ("Adding a task")."""

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
