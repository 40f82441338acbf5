"""The correctness checks of the layers in a student's model.py, and their report.

Each check tests one thing of one class against a reference computed here, independently of model.py:
forward values against the formula, backward against central finite differences in float64 (CS231n style),
shapes and dtypes, the inputs that break a careless implementation (stability), and finally the student's layers
inside MLP, trained for a few steps on a tiny problem (integration).

    results = run_checks(module, model_file)    # never raises because of the student's code
    print(format_report(results))               # last line: "N/M checks passed"

A check whose code reaches a stub (NotImplementedError) is TODO, not a crash; any other exception is a FAIL reported
with its type, message and the line of model.py. Used by main.py (common/cli.py), grade.py and the tests.
"""

import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit.student_code import explain_exception, is_stub

SEED = 3  # every check draws its inputs from np.random.default_rng(SEED): the same numbers every run
STEP = 1e-5  # finite difference step, in float64
TOLERANCE = 1e-6  # allowed error, relative to the largest expected value (at least 1)
SMALL_ARRAY = 15  # arrays up to this many values are printed whole in the report

SECTIONS = {"Linear": 1, "Sigmoid": 2, "Softmax": 3, "CrossEntropyLoss": 4}  # README section of each task


@dataclass
class CheckResult:
    cls: str  # class tested: "Linear", "ReLU", "Sigmoid", "Softmax", "CrossEntropyLoss", or "MLP" (integration)
    name: str  # short unique name containing the class, e.g. "Linear.backward dW"
    part: str  # "forward", "backward", "stability" or "integration"
    status: str  # "pass", "FAIL" or "TODO"
    detail: str = ""  # for FAIL/TODO: what was expected vs got, where (the line of model.py for exceptions)
    hint: str = ""  # for FAIL: what to reread, naming the README section (for a pass: a warning worth fixing)


class CheckFailed(Exception):
    """Raised by a check: what was expected and what came instead, and a hint for this particular failure."""

    def __init__(self, detail, hint=""):
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def reread(cls):
    """Where the math of cls is explained."""
    if cls == "ReLU":
        return "ReLU came complete with the kit, as the worked example: if you changed it, put it back as it was."
    if cls == "MLP":
        return "MLP runs your layers: fix the failures of the other classes first, then reread README sections 1-4."
    return f"Reread README section {SECTIONS[cls]} ({cls})."


# ---------------------------------------------------------------------------------------------------------------
# References, computed here in float64 without looking at model.py


def softmax_reference(x):
    exps = np.exp(x - x.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def cross_entropy_reference(probs, targets):
    return -np.sum(targets * np.log(np.maximum(probs, 1e-12))) / len(probs)


def numeric_gradient(f, array):
    """Central differences: d f() / d array, changing each element of array in place by +-STEP (then restoring it)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + STEP
        plus = f()
        array[index] = saved - STEP
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * STEP)
    return grad


def random_inputs(rng, shape, low=-2.0, high=2.0):
    """Float64 values in [low, high) drawn from rng, kept away from 0 (where ReLU has its kink)."""
    values = rng.uniform(low, high, shape)
    return np.where(np.abs(values) < 0.1, values + np.sign(values + 1e-9) * 0.2, values)


def one_hot(labels, classes, dtype=np.float64):
    return np.eye(classes, dtype=dtype)[labels]


# ---------------------------------------------------------------------------------------------------------------
# Comparing what the student's code returned with what was expected


def show(array, prefix):
    """An array on as few lines as it takes, aligned after prefix."""
    text = np.array2string(np.asarray(array), precision=4, suppress_small=True, separator=", ", prefix=prefix)
    return prefix + text


def require_array(got, shape, what, dtype=None):
    """got must be an ndarray of this shape (and dtype): else CheckFailed saying what came instead."""
    if got is None:
        raise CheckFailed(f"{what} is None: is a `return` missing?")
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{what} should be a NumPy array of shape {shape}, got a {type(got).__name__}.")
    if got.shape != tuple(shape):
        transposed = " (transposed?)" if got.shape == tuple(shape)[::-1] else ""
        raise CheckFailed(f"{what} should have shape {tuple(shape)}, got {got.shape}{transposed}.",
                          "Every gradient has the shape of what it is the gradient of: check the docstrings.")
    if dtype is not None and got.dtype != dtype:
        raise CheckFailed(f"{what} should keep the input's dtype {np.dtype(dtype).name}, got {got.dtype.name}.",
                          "Training runs in float32: keep the input's dtype (no .astype(np.float64), no float64 "
                          "arrays mixed into the computation).")
    return got


def scale_factor(got, expected):
    """c when got is c * expected for one constant c (a common slip: a missing or extra 1/N, a wrong sign)."""
    flat_expected, flat_got = expected.ravel(), got.ravel()
    if not np.all(np.isfinite(flat_got)) or not np.any(flat_expected):
        return None
    c = float(flat_got @ flat_expected / (flat_expected @ flat_expected))
    if abs(c) > 1e-9 and np.allclose(flat_got, c * flat_expected, rtol=1e-6, atol=1e-9):
        return c
    return None


def explain_factor(c, batch_size=None):
    """What got = c * expected suggests; batch_size: the N of the check, when the slip may be about N."""
    text = f"got = expected x {c:.4g}"
    if np.isclose(c, -1.0):
        return text + ": the sign is wrong."
    if batch_size and np.isclose(c, 1.0 / batch_size):
        return text + f" = 1/N, where N = {batch_size} is the batch size: an extra division by N."
    if batch_size and np.isclose(c, float(batch_size)):
        return text + f" = N, where N = {batch_size} is the batch size: a missing division by N."
    return text + "."


def require_close(got, expected, what, batch_size=None):
    """got must equal expected up to TOLERANCE (relative to the largest expected value): else CheckFailed."""
    got = np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))))
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise CheckFailed(f"{what} contains {got[bad]} (at index {bad}), where {expected[bad]:.6g} was expected.")
    errors = np.abs(got - expected)
    if np.max(errors) <= TOLERANCE * scale:
        return
    if expected.size <= SMALL_ARRAY:
        lines = [f"{what} is wrong.", show(expected, "expected "), show(got, "got      ")]
    else:
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        worst = tuple(int(i) for i in worst)
        wrong = np.count_nonzero(errors > TOLERANCE * scale)
        lines = [f"{what} is wrong in {wrong} of its {got.size} values; the largest error is {errors[worst]:.4g}, "
                 f"at index {worst}: expected {expected[worst]:.6g}, got {got[worst]:.6g}."]
    factor = scale_factor(got, expected)
    if not np.any(got):
        lines.append("Every value of it is 0: is it computed at all?")
    elif factor is not None:
        lines.append(explain_factor(factor, batch_size))
    raise CheckFailed("\n".join(lines))


# ---------------------------------------------------------------------------------------------------------------
# The checks. Each takes the module, returns nothing when the check passes, raises CheckFailed when it fails.

N, D, M = 3, 4, 5  # batch size, input features, output features: all different, so that a shape slip shows


def new_linear(module, dtype):
    """The student's Linear(D, M) with our own W and b (a nonzero bias, so that a forgotten one shows)."""
    layer = module.Linear(D, M)
    rng = np.random.default_rng(SEED + 1)
    layer.W.data = rng.normal(0.0, 1.0, (D, M)).astype(dtype)
    layer.b.data = rng.normal(0.0, 1.0, (1, M)).astype(dtype)
    return layer


def linear_forward_shape(module):
    layer, x = new_linear(module, np.float32), random_inputs(np.random.default_rng(SEED), (N, D))
    require_array(layer.forward(x.astype(np.float32)), (N, M), "Linear.forward(x)", np.float32)


def linear_forward_values(module):
    layer, x = new_linear(module, np.float64), random_inputs(np.random.default_rng(SEED), (N, D))
    got = require_array(layer.forward(x.copy()), (N, M), "Linear.forward(x)")
    require_close(got, x @ layer.W.data + layer.b.data, "y = Linear.forward(x)")


def linear_backward_shapes(module):
    layer, rng = new_linear(module, np.float32), np.random.default_rng(SEED)
    layer.forward(random_inputs(rng, (N, D)).astype(np.float32))
    grad_x = layer.backward(random_inputs(rng, (N, M)).astype(np.float32))
    require_array(grad_x, (N, D), "the gradient returned by Linear.backward", np.float32)
    require_array(layer.W.grad, (D, M), "W.grad", np.float32)
    require_array(layer.b.grad, (1, M), "b.grad", np.float32)


def linear_gradients(module):
    """The student's three gradients, and the numeric ones of sum((x @ W + b) * dout), for one x and dout."""
    layer, rng = new_linear(module, np.float64), np.random.default_rng(SEED)
    x, dout = random_inputs(rng, (N, D)), random_inputs(rng, (N, M))
    layer.forward(x.copy())
    grad_x = require_array(layer.backward(dout.copy()), (N, D), "the gradient returned by Linear.backward")
    require_array(layer.W.grad, (D, M), "W.grad")
    require_array(layer.b.grad, (1, M), "b.grad")
    W, b = layer.W.data.copy(), layer.b.data.copy()

    def f():
        return np.sum((x @ W + b) * dout)

    got = {"dx": grad_x.copy(), "dW": layer.W.grad.copy(), "db": layer.b.grad.copy()}
    expected = {"dx": numeric_gradient(f, x), "dW": numeric_gradient(f, W), "db": numeric_gradient(f, b)}
    return got, expected


def linear_backward_dx(module):
    got, expected = linear_gradients(module)
    require_close(got["dx"], expected["dx"], "dx, the gradient returned by Linear.backward", N)


def linear_backward_dW(module):
    got, expected = linear_gradients(module)
    require_close(got["dW"], expected["dW"], "W.grad", N)


def linear_backward_db(module):
    got, expected = linear_gradients(module)
    require_close(got["db"], expected["db"], "b.grad", N)


def elementwise_checks(cls, reference, low, high):
    """The four checks of a layer that acts element-wise (ReLU, Sigmoid): forward and backward, shapes and values."""

    def forward_shape(module):
        x = random_inputs(np.random.default_rng(SEED), (N, D), low, high).astype(np.float32)
        require_array(getattr(module, cls)().forward(x), (N, D), f"{cls}.forward(x)", np.float32)

    def forward_values(module):
        x = random_inputs(np.random.default_rng(SEED), (N, D), low, high)
        got = require_array(getattr(module, cls)().forward(x.copy()), (N, D), f"{cls}.forward(x)")
        require_close(got, reference(x), f"y = {cls}.forward(x)")

    def backward_shape(module):
        layer, x = getattr(module, cls)(), random_inputs(np.random.default_rng(SEED), (N, D), low, high)
        x = x.astype(np.float32)
        layer.forward(x)
        got = layer.backward(np.ones((N, D), dtype=np.float32))
        require_array(got, (N, D), f"the gradient returned by {cls}.backward", np.float32)

    def backward_dx(module):
        layer, rng = getattr(module, cls)(), np.random.default_rng(SEED)
        x, dout = random_inputs(rng, (N, D), low, high), random_inputs(rng, (N, D))
        layer.forward(x.copy())
        got = require_array(layer.backward(dout.copy()), (N, D), f"the gradient returned by {cls}.backward")
        require_close(got, numeric_gradient(lambda: np.sum(reference(x) * dout), x),
                      f"dx, the gradient returned by {cls}.backward")

    return [
        (f"{cls}.forward shape and dtype", "forward", forward_shape),
        (f"{cls}.forward values", "forward", forward_values),
        (f"{cls}.backward shape and dtype", "backward", backward_shape),
        (f"{cls}.backward dx", "backward", backward_dx),
    ]


def sigmoid_reference(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_stability(module):
    for dtype in (np.float32, np.float64):
        x = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=dtype)
        layer = module.Sigmoid()
        y = require_array(layer.forward(x.copy()), x.shape, f"Sigmoid.forward(x) in {np.dtype(dtype).name}")
        if np.any(np.isnan(y)):
            raise CheckFailed(f"Sigmoid.forward of {x.ravel().tolist()} in {np.dtype(dtype).name} gave "
                              f"{y.ravel().tolist()}: NaN where {[0.0, 0.0, 0.5, 1.0, 1.0]} was expected.",
                              "exp() of a large number is inf, and inf / inf is NaN. README section 2 gives a "
                              "form of the sigmoid that never overflows.")
        require_close(y, np.array([[0.0, 0.0, 0.5, 1.0, 1.0]]), f"Sigmoid.forward(x) for x = {x.ravel().tolist()}")
        grad = require_array(layer.backward(np.ones_like(x)), x.shape, "the gradient returned by Sigmoid.backward")
        require_close(grad, np.array([[0.0, 0.0, 0.25, 0.0, 0.0]]),
                      f"Sigmoid.backward(1) at x = {x.ravel().tolist()}")


def softmax_checks():
    def forward_shape(module):
        x = random_inputs(np.random.default_rng(SEED), (N, M)).astype(np.float32)
        require_array(module.Softmax().forward(x), (N, M),
                      "Softmax.forward(x)", np.float32)

    def forward_values(module):
        x = random_inputs(np.random.default_rng(SEED), (N, M), -3.0, 3.0)
        got = require_array(module.Softmax().forward(x.copy()), (N, M), "Softmax.forward(x)")
        sums = got.sum(axis=-1)
        if not np.allclose(sums, 1.0) and np.allclose(got.sum(axis=0), 1.0):
            raise CheckFailed(f"The columns of y = Softmax.forward(x) sum to 1, not its rows (row sums: "
                              f"{np.round(sums, 4).tolist()}): the softmax was taken over the wrong axis.",
                              "Each row is one example: sum over the last axis (axis=-1, keepdims=True). "
                              "Reread README section 3 (Softmax).")
        require_close(got, softmax_reference(x), "y = Softmax.forward(x)")

    def backward_shape(module):
        layer = module.Softmax()
        layer.forward(random_inputs(np.random.default_rng(SEED), (N, M)).astype(np.float32))
        require_array(layer.backward(np.ones((N, M), dtype=np.float32)), (N, M),
                      "the gradient returned by Softmax.backward", np.float32)

    def backward_dx(module):
        layer, rng = module.Softmax(), np.random.default_rng(SEED)
        x, dout = random_inputs(rng, (N, M)), random_inputs(rng, (N, M))
        layer.forward(x.copy())
        got = require_array(layer.backward(dout.copy()), (N, M), "the gradient returned by Softmax.backward")
        expected = numeric_gradient(lambda: np.sum(softmax_reference(x) * dout), x)
        if np.allclose(got, dout):
            raise CheckFailed("Softmax.backward returned grad_output unchanged.",
                              "The gradient has to go through the softmax: each output of a row depends on every "
                              "input of the row. Reread README section 3 (Softmax).")
        y = softmax_reference(x)
        if np.allclose(got, dout * y * (1 - y)):
            raise CheckFailed("Softmax.backward returned grad_output * y * (1 - y): only the diagonal of the "
                              "Jacobian.\n" + show(expected, "expected ") + "\n" + show(got, "got      "),
                              "y_j depends on every x_k of its row, not only on x_j: the off-diagonal terms "
                              "-y_j * y_k count too. Reread README section 3 (Softmax).")
        require_close(got, expected, "dx, the gradient returned by Softmax.backward")

    def stability(module):
        x = np.array([[1000.0, 1001.0, 1002.0], [-1002.0, -1001.0, -1000.0]])
        expected = softmax_reference(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]))
        for dtype in (np.float32, np.float64):
            y = require_array(module.Softmax().forward(x.astype(dtype)), x.shape, "Softmax.forward(x)")
            if np.any(np.isnan(y)):
                raise CheckFailed(f"Softmax.forward of {x.tolist()} in {np.dtype(dtype).name} gave NaN:\n"
                                  + show(y, "got      ") + "\n" + show(expected, "expected "),
                                  "exp(1000) overflows to inf (and exp(-1000) to 0), then inf / inf or 0 / 0 is NaN. "
                                  "Subtract each row's own maximum before exp(): README section 3 (Softmax).")
            require_close(y, expected, f"Softmax.forward(x) for x = {x.tolist()}")

    return [
        ("Softmax.forward shape and dtype", "forward", forward_shape),
        ("Softmax.forward values", "forward", forward_values),
        ("Softmax.backward shape and dtype", "backward", backward_shape),
        ("Softmax.backward dx", "backward", backward_dx),
        ("Softmax stability at x = [1000, 1001, 1002]", "stability", stability),
    ]


def loss_inputs():
    """probs (N, M) away from 0 (as after a softmax) and one-hot targets (N, M)."""
    probs = softmax_reference(random_inputs(np.random.default_rng(SEED), (N, M), -1.0, 1.0))
    return probs, one_hot(np.arange(N) % M, M)


def require_number(got, what):
    """got must be one number (a Python float, or a NumPy scalar): else CheckFailed."""
    if got is None:
        raise CheckFailed(f"{what} is None: is a `return` missing?")
    if np.ndim(got) != 0 or not np.isrealobj(got):
        shape = f"an array of shape {np.shape(got)}" if isinstance(got, np.ndarray) else f"a {type(got).__name__}"
        raise CheckFailed(f"{what} should be one number, the mean over the batch, got {shape}.",
                          "Sum over the classes and average over the N examples: the loss is a single float. "
                          "Reread README section 4 (CrossEntropyLoss).")
    return float(got)


def loss_forward_value(module):
    probs, targets = loss_inputs()
    got = require_number(module.CrossEntropyLoss().forward(probs.copy(), targets.copy()),
                         "CrossEntropyLoss.forward(probs, targets)")
    require_close(np.array(got), np.array(cross_entropy_reference(probs, targets)),
                  "L = CrossEntropyLoss.forward(probs, targets)", N)


def loss_backward_shape(module):
    probs, targets = loss_inputs()
    loss = module.CrossEntropyLoss()
    loss.forward(probs.astype(np.float32), targets.astype(np.float32))
    require_array(loss.backward(), (N, M), "the gradient returned by CrossEntropyLoss.backward", np.float32)


def loss_backward_dprobs(module):
    probs, targets = loss_inputs()
    loss = module.CrossEntropyLoss()
    loss.forward(probs.copy(), targets.copy())
    got = require_array(loss.backward(), (N, M), "dprobs, the gradient returned by CrossEntropyLoss.backward")
    expected = numeric_gradient(lambda: cross_entropy_reference(probs, targets), probs)
    if np.allclose(got, (probs - targets) / N):
        raise CheckFailed("CrossEntropyLoss.backward returned (probs - targets) / N.\n"
                          + show(expected, "expected ") + "\n" + show(got, "got      "),
                          "(probs - targets) / N is the gradient with respect to the logits before Softmax (loss "
                          "and softmax fused). Here Softmax.backward follows, so return the gradient with respect "
                          "to probs. Reread README section 4 (CrossEntropyLoss).")
    require_close(got, expected, "dprobs, the gradient returned by CrossEntropyLoss.backward", N)


def loss_stability(module):
    targets = one_hot([1, 0], 3)
    zero_elsewhere = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])  # zeros only where the target is 0
    loss = module.CrossEntropyLoss()
    got = require_number(loss.forward(zero_elsewhere.copy(), targets.copy()), "CrossEntropyLoss.forward")
    eps_hint = ("log(0) is -inf, and 0 * log(0) is NaN: clip the probabilities to at least self.eps before the log, "
                "and divide by the clipped ones in backward. Reread README section 4 (CrossEntropyLoss).")
    if not np.isfinite(got):
        raise CheckFailed(f"CrossEntropyLoss.forward(probs={zero_elsewhere.tolist()}, targets={targets.tolist()}) "
                          f"gave {got}, expected {cross_entropy_reference(zero_elsewhere, targets):.6g}.", eps_hint)
    require_close(np.array(got), np.array(cross_entropy_reference(zero_elsewhere, targets)),
                  f"CrossEntropyLoss.forward for probs = {zero_elsewhere.tolist()}")
    grad = require_array(loss.backward(), targets.shape, "the gradient returned by CrossEntropyLoss.backward")
    if not np.all(np.isfinite(grad)):
        raise CheckFailed(f"CrossEntropyLoss.backward after probs = {zero_elsewhere.tolist()} gave "
                          f"{grad.tolist()}: not finite.", eps_hint)

    zero_on_target = np.array([[1.0, 0.0, 0.0]])  # the network is sure and wrong
    got = require_number(loss.forward(zero_on_target.copy(), one_hot([1], 3)), "CrossEntropyLoss.forward")
    grad = require_array(loss.backward(), (1, 3), "the gradient returned by CrossEntropyLoss.backward")
    if not (np.isfinite(got) and got > 0 and np.all(np.isfinite(grad))):
        raise CheckFailed(f"For probs = {zero_on_target.tolist()} and targets = [[0, 1, 0]], CrossEntropyLoss gave "
                          f"the loss {got} and the gradient {grad.tolist()}: both should be finite "
                          f"(about -log(eps) for the loss).", eps_hint)


MLP_STEPS, MLP_LR, MLP_TARGET = 40, 0.5, 0.3  # plain SGD steps, learning rate, final loss / first loss at most


def mlp_training(module):
    """Plain SGD on three blobs of 10 points in 4-D: the loss must fall well below where it started."""
    rng = np.random.default_rng(SEED)
    labels = np.arange(30) % 3
    x = (rng.normal(0.0, 2.0, (3, 4))[labels] + rng.normal(0.0, 0.5, (30, 4))).astype(np.float32)
    targets = one_hot(labels, 3, np.float32)
    model = module.MLP(4, [8], 3, rng=np.random.default_rng(SEED))
    loss_fn = module.CrossEntropyLoss()
    losses = []
    for _ in range(MLP_STEPS):
        probs = require_array(model.forward(x), (30, 3), "MLP.forward(x)")
        losses.append(cross_entropy_reference(probs.astype(np.float64), targets))
        if not np.isfinite(losses[-1]):
            break
        loss_fn.forward(probs, targets)
        model.backward(loss_fn.backward())
        for p in model.parameters():
            require_array(p.grad, p.data.shape, "a Parameter's grad")
            p.data -= MLP_LR * p.grad
    probs = require_array(model.forward(x), (30, 3), "MLP.forward(x)")
    losses.append(cross_entropy_reference(probs.astype(np.float64), targets))
    if not (np.isfinite(losses[-1]) and losses[-1] < MLP_TARGET * losses[0]):
        shown = ", ".join(f"{loss:.3f}" for loss in losses[:: max(1, len(losses) // 6)])
        raise CheckFailed(f"{len(losses) - 1} steps of SGD (lr {MLP_LR}) on a tiny problem should bring the loss "
                          f"from {losses[0]:.3f} below {MLP_TARGET * losses[0]:.3f}; it went {shown}, "
                          f"ending at {losses[-1]:.4g}.")


def all_checks():
    """(class, name, part, function) of every check, in the order they run and are reported."""
    linear = [
        ("Linear.forward shape and dtype", "forward", linear_forward_shape),
        ("Linear.forward values", "forward", linear_forward_values),
        ("Linear.backward shapes and dtype", "backward", linear_backward_shapes),
        ("Linear.backward dx", "backward", linear_backward_dx),
        ("Linear.backward dW", "backward", linear_backward_dW),
        ("Linear.backward db", "backward", linear_backward_db),
    ]
    relu = elementwise_checks("ReLU", lambda x: np.maximum(x, 0.0), -2.0, 2.0)
    sigmoid = elementwise_checks("Sigmoid", sigmoid_reference, -4.0, 4.0)
    sigmoid.append(("Sigmoid stability at x = -1000 and 1000", "stability", sigmoid_stability))
    loss = [
        ("CrossEntropyLoss.forward value", "forward", loss_forward_value),
        ("CrossEntropyLoss.backward shape and dtype", "backward", loss_backward_shape),
        ("CrossEntropyLoss.backward dprobs", "backward", loss_backward_dprobs),
        ("CrossEntropyLoss stability with probabilities of 0", "stability", loss_stability),
    ]
    mlp = [("MLP training lowers the loss", "integration", mlp_training)]
    groups = [("Linear", linear), ("ReLU", relu), ("Sigmoid", sigmoid), ("Softmax", softmax_checks()),
              ("CrossEntropyLoss", loss), ("MLP", mlp)]
    return [(cls, name, part, function) for cls, checks in groups for name, part, function in checks]


# ---------------------------------------------------------------------------------------------------------------
# Running the checks


def shown_path(path):
    """path relative to the working directory when it is below it, else absolute: the shortest that can be opened."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def stub_detail(exc, model_file):
    """What a TODO check reached: the stub's own message and where it is."""
    model_file = Path(model_file).resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == model_file]
    message = str(exc) or "a method that is not written yet"
    where = f" ({shown_path(model_file)}, line {frames[-1].lineno})" if frames else ""
    return f"{message}{where}"


def numpy_warnings(caught, model_file):
    """The RuntimeWarnings NumPy gave during a check (overflow, division by zero...), in one line, or ''."""
    model_file = Path(model_file).resolve()
    seen = []
    for w in caught:
        if not issubclass(w.category, RuntimeWarning):
            continue
        where = f" ({model_file.name}, line {w.lineno})" if Path(w.filename).resolve() == model_file else ""
        text = f"{w.message}{where}"
        if text not in seen:
            seen.append(text)
    return f"NumPy warned: {'; '.join(seen)}." if seen else ""


def warning_note(warned, cls):
    """The note of a check that passed although NumPy warned: right values, but worth fixing."""
    section = f" README section {SECTIONS[cls]} shows how to avoid it." if cls in SECTIONS else ""
    return f"{warned} The values are right, but a number overflowed or was divided by zero on the way.{section}"


def run_one(module, model_file, cls, name, part, function):
    """Run one check; whatever the student's code does (short of hanging), return its CheckResult."""
    if not hasattr(module, cls):
        return CheckResult(cls, name, part, "FAIL", f"{Path(model_file).name} has no class {cls}.",
                           f"Keep every class of the original model.py: {cls} is one of them.")
    # Warn (not raise, not stay silent) on overflow, division by zero and NaN, whatever the caller set before;
    # underflow to 0 is harmless and stays silent.
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", divide="warn", invalid="warn",
                                                                     under="ignore"):
        warnings.simplefilter("always")
        try:
            function(module)
        except CheckFailed as failure:
            warned = numpy_warnings(caught, model_file)
            detail = failure.detail + (f"\n{warned}" if warned else "")
            hint = failure.hint if "README" in failure.hint else f"{failure.hint} {reread(cls)}".strip()
            return CheckResult(cls, name, part, "FAIL", detail, hint)
        except Exception as exc:  # the student's code raised: a TODO if it is a stub, else explain where
            if is_stub(exc):
                return CheckResult(cls, name, part, "TODO", stub_detail(exc, model_file))
            return CheckResult(cls, name, part, "FAIL", explain_exception(exc, model_file), reread(cls))
    warned = numpy_warnings(caught, model_file)
    return CheckResult(cls, name, part, "pass", hint=warning_note(warned, cls) if warned else "")


def run_checks(model_module, model_file):
    """Every check of the layers in model_module (imported from model_file), in report order. Never raises
    because of the student's code."""
    return [run_one(model_module, model_file, *check) for check in all_checks()]


# ---------------------------------------------------------------------------------------------------------------
# The report

MARKS = {"pass": "✓", "FAIL": "✗", "TODO": "○"}
ASCII_MARKS = {"pass": "+", "FAIL": "x", "TODO": "-"}


def marks_for(encoding):
    """The check marks when the console can print them (a Windows cp1252 or cp936 console cannot), else ASCII."""
    try:
        "".join(MARKS.values()).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return MARKS


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.split("\n"))


def format_report(results, encoding=None):
    """The whole report: one line per check grouped by class, the first failure of each failing class explained,
    the next TODO, and last the line 'N/M checks passed'. encoding: the console's (default: sys.stdout's)."""
    encoding = encoding or getattr(sys.stdout, "encoding", None) or "utf-8"
    marks = marks_for(encoding)
    lines = []
    classes = list(dict.fromkeys(r.cls for r in results))
    for cls in classes:
        lines.append(cls + (" (the worked example, already complete)" if cls == "ReLU" else ""))
        lines += [f"  {marks[r.status]} {r.status:<4}  {r.name}" for r in results if r.cls == cls]

    failures = [next(r for r in results if r.cls == cls and r.status == "FAIL")
                for cls in classes if any(r.cls == cls and r.status == "FAIL" for r in results)]
    for failure in failures:
        lines += ["", f"{failure.name}: FAIL", indent(failure.detail), indent("Hint: " + failure.hint)]

    notes = [r for r in results if r.status == "pass" and r.hint]
    for note in notes:
        lines += ["", f"{note.name}: passed, with a note", indent(note.hint)]

    todos = [r for r in results if r.status == "TODO"]
    passed = sum(r.status == "pass" for r in results)
    if todos:
        lines += ["", f"{len(todos)} checks wait for code you have not written yet. Next: {todos[0].detail}"]
    elif passed == len(results):
        lines += ["", "Every check passed: your layers agree with the math. Time to train."]
    lines.append(f"{passed}/{len(results)} checks passed")
    report = "\n".join(lines)
    # The student's own text (an exception message, a line of code) may hold characters the console cannot print.
    return report.encode(encoding, errors="replace").decode(encoding)
