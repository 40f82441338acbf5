"""Why is a run not learning? Short trainings that swap the student's layers for the reference ones, class by class.

When a run stops because it is not learning (train.check_learning), diagnose() trains the same network, at the
run's settings, for a few hundred steps on a small part of MNIST, several times:

1. with the student's layers, and with the reference layers;
2. when only the reference layers learn: with the student's layers but one class (Linear, Sigmoid, Softmax or
   CrossEntropyLoss) taken from the reference. The swap that makes the network learn names the class at fault;
3. when the reference layers do not learn either, the settings are at fault, most often the learning rate: a few
   learning rates are tried, and the one that learns best is suggested.

It takes a few seconds (at most BUDGET_SECONDS) and returns a report to print.

The reference layers are those of chapter03/solution/model.py, the reference every check agrees with, which ships
with the kit beside startup/. A copy of them here would hand the answers to students of a course that removes
solution/ from what it gives out; so where solution/model.py is missing, the diagnosis says so and tries learning
rates with the student's own layers only.
"""

import math
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
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
# Tried when the learning rate is at fault (in the order learning_rates_to_try gives).
LEARNING_RATES = [1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001]


class OutOfTime(Exception):
    """The diagnosis used up its BUDGET_SECONDS."""


@dataclass
class Trial:
    label: str  # what was trained, e.g. "yours, with the reference Linear"
    accuracy: float  # share of the held-out digits right after the trial (0 when it failed)
    problem: str = ""  # why it failed outright: an exception in model.py, a NaN loss

    @property
    def learns(self):
        return self.accuracy >= LEARNS

    def line(self, width):
        outcome = self.problem or f"{self.accuracy:4.0%} right" + ("   learns" if self.learns else "")
        return f"  {self.label:<{width}}  {outcome}"


class Network:
    """The run's MLP built from the given classes: (Linear, Sigmoid) per hidden layer, then Linear, Softmax.

    classes: {"Linear": class, "Sigmoid": class, ...}; sizes: [784, *hidden_dims, 10]. Every trial starts from the
    same weights (Glorot uniform from `seed`), whichever classes it uses, so that trials differ only by their classes.
    """

    def __init__(self, classes, sizes, seed):
        rng = np.random.default_rng(seed)
        self.layers = []
        last = len(sizes) - 2
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = classes["Linear"](n_in, n_out)
            limit = math.sqrt(6.0 / (n_in + n_out))
            linear.W.data = rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)
            linear.b.data = np.zeros((1, n_out), dtype=np.float32)
            self.layers += [linear, classes["Softmax"]() if i == last else classes["Sigmoid"]()]

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
    """Runs trials on one small subset within one time budget, and remembers them in order for the report."""

    def __init__(self, data, config, model_file, deadline):
        count = min(len(data.train_images), STEPS * config.batch_size)
        self.images, self.labels = data.train_images[:count], data.train_labels[:count]
        self.held_images, self.held_labels = data.val_images[:HELD_OUT], data.val_labels[:HELD_OUT]
        self.config, self.model_file, self.deadline = config, model_file, deadline
        self.sizes = [data.train_images.shape[1], *config.hidden_dims, train_classes(data)]
        self.done = []

    def run(self, label, classes, lr=None, make_network=None):
        """Train a network of `classes` at `lr` (default: the run's) on the subset; returns and keeps its Trial.

        make_network(): another way to build the network (the student's own MLP class)."""
        lr = self.config.lr if lr is None else lr
        loss_class = classes["CrossEntropyLoss"]
        trial = Trial(label, 0.0)
        try:
            with np.errstate(all="ignore"):  # a failing trial is told by its accuracy, not by NumPy's warnings
                network = make_network() if make_network else Network(classes, self.sizes, self.config.seed)
                self.train(network, loss_class(), train.SGD(network.parameters(), lr, self.config.momentum))
                _, trial.accuracy, _ = train.evaluate(network, loss_class(), self.held_images, self.held_labels)
        except train.Diverged:
            trial.problem = "the loss became NaN or infinite"
        except KitError as error:  # a gradient the optimizer cannot use: its first words say enough here
            trial.problem = str(error).split(":")[0]
        except OutOfTime:
            raise
        except Exception as error:
            if not raised_in(error, self.model_file):
                raise  # a bug of the kit: keep the traceback
            trial.problem = f"failed: {explain_exception(error, self.model_file)}"
        if not math.isfinite(trial.accuracy):
            trial.accuracy = 0.0
        self.done.append(trial)
        return trial

    def train(self, network, loss_fn, optimizer):
        """STEPS steps on the subset: one pass over it, or more when the data set is small."""
        steps_left, batch_size, passes = STEPS, self.config.batch_size, 0
        while steps_left > 0:
            count = min(len(self.images), steps_left * batch_size)
            train.train_one_epoch(network, loss_fn, optimizer, self.images[:count], self.labels[:count], batch_size,
                                  np.random.default_rng([self.config.seed, passes]), self.check_time)
            steps_left -= -(-count // batch_size)
            passes += 1

    def check_time(self, *progress):
        if time.monotonic() > self.deadline:
            raise OutOfTime


def train_classes(data):
    """The number of classes: 10 for MNIST's digits."""
    return int(max(data.train_labels.max(), data.val_labels.max())) + 1


def classes_of(module):
    """{class name: class} of the swappable classes (and CrossEntropyLoss) of a model.py module."""
    return {name: getattr(module, name) for name in LAYER_CLASSES}


def diagnose(model_module, model_file, data, config, checks_passed=True, reference_file=REFERENCE_FILE):
    """The diagnosis of a run that is not learning, as text to print: what was tried and what to do.

    model_module: the student's model.py, imported from model_file; data: the MNIST splits (data.py); config: the
    run's Config (run.py). Takes at most about BUDGET_SECONDS.
    """
    started = time.monotonic()
    trials = Trials(data, config, model_file, started + BUDGET_SECONDS)
    yours = classes_of(model_module)
    try:
        advice = find_the_fault(trials, yours, reference_file, model_module, config)
    except OutOfTime:
        advice = (f"The diagnosis stopped after {BUDGET_SECONDS:.0f} s, before it could tell (are your layers slow? "
                  f"each trial is {STEPS} steps).")
    settings = f"lr {config.lr:g}, momentum {config.momentum:g}, batch {config.batch_size}"
    header = (f"Diagnosis: the same network trained for {STEPS} steps at your settings ({settings}) on "
              f"{len(trials.images):,} training digits, then tested on {len(trials.held_images):,} other digits "
              f"({time.monotonic() - started:.1f} s):")
    width = max((len(trial.label) for trial in trials.done), default=0)
    paragraphs = [wrapped(header), *(trial.line(width) for trial in trials.done), "", wrapped(advice)]
    if not checks_passed:
        paragraphs += ["", wrapped("Some checks failed (you trained with --skip_checks): fix them first, they say "
                                   "where the mistake is. Run the checks with --checks_only.")]
    return "\n".join(paragraphs)


def wrapped(text):
    return textwrap.fill(text, width=WIDTH, break_on_hyphens=False, break_long_words=False)


def find_the_fault(trials, yours, reference_file, model_module, config):
    """Run the trials the situation calls for; the advice, in words."""
    if trials.run("your layers", yours).learns:
        return settle_a_trial_that_learns(trials, yours, model_module, config)
    reference_file = Path(reference_file)
    if reference_file.is_file() and reference_file.resolve() == Path(trials.model_file).resolve():
        return ("These are the reference layers: the settings are at fault. "
                + suggest_learning_rate(trials, yours, config, "these layers"))
    reference = load_reference(reference_file)
    if reference is None:
        return (f"The reference layers ({reference_file.parent.name}/{reference_file.name}) are not here to compare "
                f"with, so only learning rates were tried. " + suggest_learning_rate(trials, yours, config, "yours"))
    if trials.run("the reference layers", reference).learns:
        return blame_a_class(trials, yours, reference, config.lr)
    rate = try_learning_rates(trials, reference, config, "the reference layers")
    if rate is None:
        return no_rate_learns(config)
    if trials.run(f"your layers, lr {rate:g}", yours, rate).learns:
        return (f"Even the reference layers do not learn at lr {config.lr:g}: the learning rate is at fault. "
                f"Train with  {lr_flag(rate)}.")
    return (f"At lr {config.lr:g} the reference layers do not learn either; at lr {rate:g} they do, and yours still do "
            f"not. {blame_a_class(trials, yours, reference, rate)} Then train with  {lr_flag(rate)}.")


def load_reference(reference_file):
    """The reference classes of solution/model.py; None when it is missing, or broken (then it is not a reference)."""
    if not reference_file.is_file():
        return None
    try:
        return classes_of(load_model_module(reference_file))
    except (KitError, AttributeError):
        return None


def blame_a_class(trials, yours, reference, lr):
    """Swap one class at a time; the advice naming the class whose reference makes the network learn."""
    helped = []
    for name in LAYER_CLASSES:
        classes = dict(yours, **{name: reference[name]})
        label = f"yours, with the reference {name}" + ("" if lr == trials.config.lr else f", lr {lr:g}")
        if trials.run(label, classes, lr).learns:
            helped.append(name)
    if not helped:
        return ("No single class of yours is at fault alone: only the reference layers all together learn. More "
                "than one of your classes is wrong: compare each with the handout's derivation, one at a time.")
    if len(helped) == len(LAYER_CLASSES):
        return ("Any one reference class makes the network learn: your layers are not wrong alone, but together. "
                "Look at the numbers they pass each other (dtype, shape), and at MLP in model.py (given code).")
    return " ".join(blame(name, yours[name], reference[name]) for name in helped)


def blame(name, your_class, reference_class):
    """'With the reference Linear the network learns: look at Linear.backward ...'."""
    method = "backward" if same_forward(name, your_class, reference_class) else "forward"
    why = (" (its forward gives the reference's outputs, so the gradients are wrong: often something kept from "
           "one batch to the next, such as a gradient added to (+=) rather than set (=))" if method == "backward" else
           " (its outputs differ from the reference's)")
    return f"With the reference {name} the network learns: look at {name}.{method}{why}."


def same_forward(name, your_class, reference_class):
    """True when the student's class and the reference compute the same forward on one random input."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 3.0, (5, 10)).astype(np.float32)
    try:
        if name == "Linear":
            yours, reference = your_class(10, 7), reference_class(10, 7)
            weight, bias = rng.normal(size=(10, 7)).astype(np.float32), rng.normal(size=(1, 7)).astype(np.float32)
            for layer in (yours, reference):
                layer.W.data, layer.b.data = weight.copy(), bias.copy()
            outputs = yours.forward(x.copy()), reference.forward(x.copy())
        elif name == "CrossEntropyLoss":
            probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
            targets = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 5)]
            outputs = your_class().forward(probs.copy(), targets), reference_class().forward(probs.copy(), targets)
        else:
            outputs = your_class().forward(x.copy()), reference_class().forward(x.copy())
        return bool(np.allclose(np.asarray(outputs[0], dtype=np.float64), np.asarray(outputs[1], dtype=np.float64),
                                rtol=1e-4, atol=1e-6))
    except Exception:  # the student's forward failed on this input: it is not the reference's
        return False


def settle_a_trial_that_learns(trials, yours, model_module, config):
    """The student's layers learn on the subset: try the student's own MLP class, then blame it or the settings."""
    seed = config.seed

    def students_mlp():
        return model_module.MLP(trials.sizes[0], list(config.hidden_dims), trials.sizes[-1],
                                rng=np.random.default_rng(seed))

    if not trials.run("your layers in your MLP", yours, make_network=students_mlp).learns:
        return ("Your layers learn when the kit puts them together, but not inside the MLP of your model.py: MLP is "
                "given code, put it back as it came (chapter03/solution/model.py has it).")
    return (f"On this small part of MNIST your network learns; over a whole epoch it did not. The learning rate is "
            f"probably too large for longer training: try  --lr {config.lr / 10:g}.")


def learning_rates_to_try(lr):
    """LEARNING_RATES other than lr: the default first, then outwards from it, towards lr first on a tie.

    The default works for most settings, so this order finds a rate that learns in few trials."""
    def decades(a, b):
        return round(abs(math.log10(a / b)), 6)

    others = [rate for rate in LEARNING_RATES if not math.isclose(rate, lr, rel_tol=0.01)]
    return sorted(others, key=lambda rate: (decades(rate, DEFAULT_LR), decades(rate, lr)))


def try_learning_rates(trials, classes, config, whose):
    """Train `classes` at other learning rates (learning_rates_to_try); the rate that learned best, or None.

    Stops once two rates have learned: the first that learns is often at the edge of what works."""
    learned = []
    for rate in learning_rates_to_try(config.lr):
        trial = trials.run(f"{whose}, lr {rate:g}", classes, rate)
        if trial.learns:
            learned.append((trial.accuracy, -rate, rate))
            if len(learned) == 2:
                break
    return max(learned)[2] if learned else None


def suggest_learning_rate(trials, classes, config, whose):
    rate = try_learning_rates(trials, classes, config, whose)
    return no_rate_learns(config) if rate is None else f"Train with  {lr_flag(rate)}."


def lr_flag(rate):
    """'--lr 0.1  (the default is 0.01)'."""
    default = "the default" if rate == DEFAULT_LR else f"the default is {DEFAULT_LR:g}"
    return f"--lr {rate:g}  ({default})"


def no_rate_learns(config):
    tried = ", ".join(f"{rate:g}" for rate in LEARNING_RATES)
    return (f"No learning rate tried ({tried}) made the network learn with momentum {config.momentum:g} and batch "
            f"size {config.batch_size}. Go back to the defaults (no flags) and change one setting at a time.")
