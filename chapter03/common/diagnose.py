"""Why is a run not learning? Short trainings of the run's network: the student's layers, then each class swapped
for the reference's (the swap that learns names the class); when the layers are not at fault, other learning rates."""

import math
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.i18n import say
from coursekit.student_code import explain_exception, load_model_module, raised_in
from coursekit.tasks import TASK

from . import train
from .tasks import TASKS

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "solution" / "model.py"
LAYER_CLASSES = [task.cls for task in TASKS if task.kind == TASK]  # what students write: what can be swapped
STEPS = 300  # training steps of one trial: enough for the reference layers to get ~90% right at the defaults
HELD_OUT = 1000  # validation digits each trial is tested on
LEARNS = 0.5  # a trial "learns" when it gets at least this share of the held-out digits right (chance is 10%)
BUDGET_SECONDS = 8.0
WIDTH = 110  # of the report's paragraphs
DEFAULT_LR = 0.01  # main.py's default --lr
LEARNING_RATES = [1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001]  # tried in the order learning_rates_to_try gives


class OutOfTime(BaseException):
    """BUDGET_SECONDS used up (not an Exception: a trial's `except Exception` lets it through)."""


@dataclass
class Trial:
    label: str  # what was trained, e.g. "yours, with the reference Linear"
    accuracy: float  # share of the held-out digits right after the trial (0 when it failed)
    problem: str = ""  # why it failed outright: an exception in model.py, a NaN loss
    learns: bool = False  # accuracy >= LEARNS

    def line(self, width):
        outcome = self.problem or say(f"{self.accuracy:4.0%} right", f"答对 {self.accuracy:4.0%}") + \
            (say("   learns", "   学会了") if self.learns else "")
        return f"  {self.label:<{width}}  {outcome}"


class Network:
    """The run's MLP of classes {"Linear": class, ...}, sizes [784, *hidden_dims, 10]; the same weights each trial."""

    def __init__(self, classes, sizes, seed):
        rng = np.random.default_rng(seed)
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = classes["Linear"](n_in, n_out)
            linear.W.data = (rng.uniform(-1, 1, (n_in, n_out)) * math.sqrt(6.0 / (n_in + n_out))).astype(np.float32)
            linear.b.data = np.zeros((1, n_out), dtype=np.float32)
            self.layers += [linear, classes["Softmax" if i == len(sizes) - 2 else "Sigmoid"]()]

    def __call__(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self):
        return [param for layer in self.layers for param in layer.parameters()]


class Trials:
    """Trials on one small subset within one time budget, kept in order for the report."""

    def __init__(self, data, config, model_file, deadline):
        steps = STEPS * config.batch_size  # images: np.resize repeats a smaller data set, cuts a larger one
        self.count = min(len(data.train_images), steps)
        self.images, self.labels = (np.resize(a, (steps, *a.shape[1:])) for a in (data.train_images, data.train_labels))
        self.held_images, self.held_labels = data.val_images[:HELD_OUT], data.val_labels[:HELD_OUT]
        self.config, self.model_file, self.deadline = config, model_file, deadline
        self.sizes = [data.train_images.shape[1], *config.hidden_dims, int(data.train_labels.max()) + 1]
        self.done = []  # the trials, in order

    def run(self, label, classes, lr=None):
        loss_class, trial = classes["CrossEntropyLoss"], Trial(label, 0.0)
        try:
            with np.errstate(all="ignore"):  # a failing trial is told by its accuracy, not by NumPy's warnings
                network, config = Network(classes, self.sizes, self.config.seed), self.config
                train.train_one_epoch(network, loss_class(), train.SGD(network.parameters(), lr or config.lr,
                                      config.momentum), self.images, self.labels, config.batch_size,
                                      np.random.default_rng(config.seed), self.check_time)
                _, trial.accuracy, _ = train.evaluate(network, loss_class(), self.held_images, self.held_labels)
        except train.Diverged:
            trial.problem = say("the loss became NaN or infinite", "损失变成了 NaN 或无穷大")
        except KitError as error:  # a gradient the optimizer cannot use: its first words say enough here
            trial.problem = str(error).split(":")[0]
        except Exception as error:
            if not raised_in(error, self.model_file):
                raise  # a bug of the kit: keep the traceback
            trial.problem = say("failed: ", "出错：") + explain_exception(error, self.model_file)
        trial.learns = trial.accuracy >= LEARNS
        self.done.append(trial)
        return trial

    def check_time(self, *progress):
        if time.monotonic() > self.deadline:
            raise OutOfTime


def classes_of(module):  # {class name: class} of the classes students write
    return {name: getattr(module, name) for name in LAYER_CLASSES}


def diagnose(model_module, model_file, data, config, checks_passed=True, reference_file=REFERENCE_FILE):
    """What was tried and what to do, as text. checks_passed: False when trained with --skip_checks over failures."""
    started = time.monotonic()
    trials = Trials(data, config, model_file, started + BUDGET_SECONDS)
    try:
        advice = find_the_fault(trials, model_module, Path(reference_file), checks_passed)
    except OutOfTime:
        advice = say(f"The diagnosis stopped after {BUDGET_SECONDS:.0f} s, before it could tell: are your layers slow?",
                     f"诊断在 {BUDGET_SECONDS:.0f} 秒后停下了，还没找到原因：你的层是不是很慢？")
    settings = f"lr {config.lr:g}, momentum {config.momentum:g}, batch {config.batch_size}"
    elapsed, count, held = time.monotonic() - started, trials.count, len(trials.held_images)
    header = say(f"Diagnosis: the same network trained for {STEPS} steps at your settings ({settings}) on "
                 f"{count:,} training digits, then tested on {held:,} other digits ({elapsed:.1f} s):",
                 f"诊断：同样的网络按你的设置（{settings}）在 {count:,} 个训练数字上训练 {STEPS} 步，再在另外 "
                 f"{held:,} 个数字上测试（{elapsed:.1f} 秒）：")
    width = max((len(trial.label) for trial in trials.done), default=0)
    paragraphs = [wrapped(header), *(trial.line(width) for trial in trials.done), "", wrapped(advice)]
    if not checks_passed:
        paragraphs += ["", wrapped(say("Some checks failed (you trained with --skip_checks): fix them first, they "
                                       "say where the mistake is. Run the checks with --checks_only.",
                                       "有检查没有通过（你用了 --skip_checks）：先修好它们，它们会指出错在哪里。"
                                       "用 --checks_only 运行检查。"))]
    return "\n".join(paragraphs)


def wrapped(text):
    return textwrap.fill(text, width=WIDTH, break_on_hyphens=False, break_long_words=False)


def find_the_fault(trials, model_module, reference_file, checks_passed):
    yours, lr = classes_of(model_module), trials.config.lr
    if trials.run(say("your layers", "你的层"), yours).learns:
        return say(f"Your layers learn on this part of MNIST, not over a whole epoch: the learning rate is probably "
                   f"too large for longer training, try  --lr {lr / 10:g}.", f"你的层在这一小部分 MNIST 上学得会，"
                   f"完整一轮却学不会：学习率对更长的训练可能太大了，试试  --lr {lr / 10:g}。")
    if reference_file.resolve() == Path(trials.model_file).resolve():
        return say("These are the reference layers: the settings are at fault. ",
                   "这就是参考答案的层：问题出在设置上。") + suggest_learning_rate(trials, yours)
    try:  # the reference classes; None when missing (a student edition) or broken
        reference = classes_of(load_model_module(reference_file)) if reference_file.is_file() else None
    except (KitError, AttributeError):
        reference = None
    if reference is None and not checks_passed:  # a student edition leaves the reference out: the checks tell
        return say("There are no reference layers here to compare with.", "这里没有参考答案的层可以对照。")
    if reference is None:
        return say("Your layers pass every check: the settings are at fault. ",
                   "你的层通过了所有检查：问题出在设置上。") + suggest_learning_rate(trials, yours)
    whose = say("the reference layers", "参考答案的层")
    if not trials.run(whose, reference).learns:
        return say(f"Even the reference layers do not learn at lr {lr:g}: the learning rate is at fault. ",
                   f"在 lr {lr:g} 下连参考答案的层也学不会：问题出在学习率上。") + \
            suggest_learning_rate(trials, reference, whose)
    helped = [name for name in LAYER_CLASSES if trials.run(say(f"yours, with the reference {name}",
                                                               f"你的层，{name} 换成参考答案的"),
                                                           {**yours, name: reference[name]}).learns]
    if not helped or len(helped) == len(LAYER_CLASSES):
        return say("No single class of yours is at fault alone: compare each with the handout's derivation, one at "
                   "a time, and look at the arrays they pass each other (dtype, shape).",
                   "不是你的某一个类单独出错：把每个类逐一和讲义的推导对照，再看看它们之间传递的数组（dtype、形状）。")
    return " ".join(blame(name, yours[name], reference[name]) for name in helped)


def blame(name, your_class, reference_class):
    """Which method of `name` to look at: forward when its outputs differ from the reference's on one input."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.normal(0.0, 3.0, shape).astype(np.float32) for shape in ((5, 10), (10, 7), (1, 7)))
    args = (np.exp(x) / np.exp(x).sum(axis=1, keepdims=True), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 5)]) \
        if name == "CrossEntropyLoss" else (x,)
    outputs, sizes = [], (10, 7) if name == "Linear" else ()
    try:
        for layer in (your_class(*sizes), reference_class(*sizes)):
            if name == "Linear":
                layer.W.data, layer.b.data = w.copy(), b.copy()
            outputs.append(np.asarray(layer.forward(*(a.copy() for a in args)), dtype=np.float64))
        same_forward = np.allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-6)
    except Exception:  # the student's forward failed on this input: it is not the reference's
        same_forward = False
    if same_forward:
        return say(f"With the reference {name} the network learns: look at {name}.backward (its forward is right: "
                   "often a gradient added to (+=) rather than set (=), kept from one batch to the next).",
                   f"换上参考答案的 {name} 网络就能学会：看看 {name}.backward（它的 forward 是对的：常见的是梯度用了 "
                   "+= 而不是 =，从上一个批次留了下来）。")
    return say(f"With the reference {name} the network learns: look at {name}.forward (its outputs differ from the "
               "reference's).", f"换上参考答案的 {name} 网络就能学会：看看 {name}.forward（它的输出和参考答案的"
               "不同）。")


def learning_rates_to_try(lr):
    """LEARNING_RATES but lr: the default first (it works for most settings), then outwards, towards lr."""
    def decades(a, b):
        return round(abs(math.log10(a / b)), 6)

    others = [rate for rate in LEARNING_RATES if not math.isclose(rate, lr, rel_tol=0.01)]
    return sorted(others, key=lambda rate: (decades(rate, DEFAULT_LR), decades(rate, lr)))


def suggest_learning_rate(trials, classes, whose=None):
    """Advice naming the rate that learned best of the first two that learn (the first is often at the edge)."""
    learned, whose = [], whose or say("your layers", "你的层")
    for rate in learning_rates_to_try(trials.config.lr):
        trial = trials.run(say(f"{whose}, lr {rate:g}", f"{whose}，lr {rate:g}"), classes, rate)
        learned += [(trial.accuracy, -rate)] if trial.learns else []
        if len(learned) == 2:
            break
    if not learned:
        tried, config = ", ".join(f"{rate:g}" for rate in LEARNING_RATES), trials.config
        return say(f"No learning rate tried ({tried}) made it learn at momentum {config.momentum:g}, batch "
                   f"{config.batch_size}: go back to the defaults (no flags), then change one setting at a time.",
                   f"试过的学习率（{tried}）在动量 {config.momentum:g}、批量 {config.batch_size} 下都学不会："
                   "回到默认设置（不加参数），再一次只改一个设置。")
    rate = -max(learned)[1]
    return say(f"Train with  --lr {rate:g}  (the default is {DEFAULT_LR:g}).", f"用  --lr {rate:g}（默认值是 "
               f"{DEFAULT_LR:g}）训练。")
