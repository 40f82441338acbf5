"""The checks of chapter 3's layers: each tests one thing of one class of the student's model.py.

Forward values against the formula, backward against float64 central differences of the checker's own reference
(coursekit/gradcheck.py), shapes and dtypes, the inputs that break a careless implementation (stability), and last
the student's layers inside MLP, trained for a few steps on a tiny problem (integration). The references here are
computed without looking at model.py. coursekit/report.py runs them and writes the report.
"""

import numpy as np

from coursekit.gradcheck import (
    CheckFailed,
    inputs_rng,
    numeric_gradient,
    one_hot,
    random_inputs,
    require_array,
    require_close,
    require_number,
    show,
)
from coursekit.layer_checks import elementwise_checks
from coursekit.report import Check

from .tasks import TASK

# ---------------------------------------------------------------------------------------------------------------
# References, computed here in float64 without looking at model.py


def softmax_reference(x):
    exps = np.exp(x - x.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def cross_entropy_reference(probs, targets):
    return -np.sum(targets * np.log(np.maximum(probs, 1e-12))) / len(probs)


# ---------------------------------------------------------------------------------------------------------------
# The checks. Each takes the module, returns nothing when the check passes, raises CheckFailed when it fails.

N, D, M = 3, 4, 5  # batch size, input features, output features: all different, so that a shape slip shows


def new_linear(module, dtype):
    """The student's Linear(D, M) with our own W and b (a nonzero bias, so that a forgotten one shows)."""
    layer = module.Linear(D, M)
    rng = inputs_rng(1)
    layer.W.data = rng.normal(0.0, 1.0, (D, M)).astype(dtype)
    layer.b.data = rng.normal(0.0, 1.0, (1, M)).astype(dtype)
    return layer


def linear_forward_shape(module):
    layer, x = new_linear(module, np.float32), random_inputs(inputs_rng(), (N, D))
    require_array(layer.forward(x.astype(np.float32)), (N, M), "Linear.forward(x)", np.float32)


def linear_forward_values(module):
    layer, x = new_linear(module, np.float64), random_inputs(inputs_rng(), (N, D))
    got = require_array(layer.forward(x.copy()), (N, M), "Linear.forward(x)")
    require_close(got, x @ layer.W.data + layer.b.data, "y = Linear.forward(x)")


def linear_backward_shapes(module):
    layer, rng = new_linear(module, np.float32), inputs_rng()
    layer.forward(random_inputs(rng, (N, D)).astype(np.float32))
    grad_x = layer.backward(random_inputs(rng, (N, M)).astype(np.float32))
    require_array(grad_x, (N, D), "the gradient returned by Linear.backward", np.float32)
    require_array(layer.W.grad, (D, M), "W.grad", np.float32)
    require_array(layer.b.grad, (1, M), "b.grad", np.float32)


def linear_gradients(module):
    """The student's three gradients, and the numeric ones of sum((x @ W + b) * dout), for one x and dout."""
    layer, rng = new_linear(module, np.float64), inputs_rng()
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
                              "exp() of a large number is inf, and inf / inf is NaN. The handout gives a form of the "
                              "sigmoid that never overflows.")
        require_close(y, np.array([[0.0, 0.0, 0.5, 1.0, 1.0]]), f"Sigmoid.forward(x) for x = {x.ravel().tolist()}")
        grad = require_array(layer.backward(np.ones_like(x)), x.shape, "the gradient returned by Sigmoid.backward")
        require_close(grad, np.array([[0.0, 0.0, 0.25, 0.0, 0.0]]),
                      f"Sigmoid.backward(1) at x = {x.ravel().tolist()}")


def softmax_checks():
    def forward_shape(module):
        x = random_inputs(inputs_rng(), (N, M)).astype(np.float32)
        require_array(module.Softmax().forward(x), (N, M),
                      "Softmax.forward(x)", np.float32)

    def forward_values(module):
        x = random_inputs(inputs_rng(), (N, M), -3.0, 3.0)
        got = require_array(module.Softmax().forward(x.copy()), (N, M), "Softmax.forward(x)")
        sums = got.sum(axis=-1)
        if not np.allclose(sums, 1.0) and np.allclose(got.sum(axis=0), 1.0):
            raise CheckFailed(f"The columns of y = Softmax.forward(x) sum to 1, not its rows (row sums: "
                              f"{np.round(sums, 4).tolist()}): the softmax was taken over the wrong axis.",
                              "Each row is one example: sum over the last axis (axis=-1, keepdims=True).")
        require_close(got, softmax_reference(x), "y = Softmax.forward(x)")

    def backward_shape(module):
        layer = module.Softmax()
        layer.forward(random_inputs(inputs_rng(), (N, M)).astype(np.float32))
        require_array(layer.backward(np.ones((N, M), dtype=np.float32)), (N, M),
                      "the gradient returned by Softmax.backward", np.float32)

    def backward_dx(module):
        layer, rng = module.Softmax(), inputs_rng()
        x, dout = random_inputs(rng, (N, M)), random_inputs(rng, (N, M))
        layer.forward(x.copy())
        got = require_array(layer.backward(dout.copy()), (N, M), "the gradient returned by Softmax.backward")
        expected = numeric_gradient(lambda: np.sum(softmax_reference(x) * dout), x)
        if np.allclose(got, dout):
            raise CheckFailed("Softmax.backward returned grad_output unchanged.",
                              "The gradient has to go through the softmax: each output of a row depends on every "
                              "input of the row.")
        y = softmax_reference(x)
        if np.allclose(got, dout * y * (1 - y)):
            raise CheckFailed("Softmax.backward returned grad_output * y * (1 - y): only the diagonal of the "
                              "Jacobian.\n" + show(expected, "expected ") + "\n" + show(got, "got      "),
                              "y_j depends on every x_k of its row, not only on x_j: the off-diagonal terms "
                              "-y_j * y_k count too.")
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
                                  "Subtract each row's own maximum before exp().")
            require_close(y, expected, f"Softmax.forward(x) for x = {x.tolist()}")

    task = TASK["Softmax"]
    return [
        Check(task, "Softmax.forward shape and dtype", "forward", forward_shape, weight=0),
        Check(task, "Softmax.forward values", "forward", forward_values),
        Check(task, "Softmax.backward shape and dtype", "backward", backward_shape, weight=0),
        Check(task, "Softmax.backward dx", "backward", backward_dx),
        Check(task, "Softmax stability at x = [1000, 1001, 1002]", "stability", stability),
    ]


def loss_inputs():
    """probs (N, M) away from 0 (as after a softmax) and one-hot targets (N, M)."""
    probs = softmax_reference(random_inputs(inputs_rng(), (N, M), -1.0, 1.0))
    return probs, one_hot(np.arange(N) % M, M)


LOSS_MEANING = "the mean over the batch"
LOSS_HINT = "Sum over the classes and average over the N examples: the loss is a single float."


def loss_forward_value(module):
    probs, targets = loss_inputs()
    got = require_number(module.CrossEntropyLoss().forward(probs.copy(), targets.copy()),
                         "CrossEntropyLoss.forward(probs, targets)", LOSS_MEANING, LOSS_HINT)
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
                          "to probs.")
    require_close(got, expected, "dprobs, the gradient returned by CrossEntropyLoss.backward", N)


def loss_stability(module):
    targets = one_hot([1, 0], 3)
    zero_elsewhere = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])  # zeros only where the target is 0
    loss = module.CrossEntropyLoss()
    got = require_number(loss.forward(zero_elsewhere.copy(), targets.copy()), "CrossEntropyLoss.forward",
                         LOSS_MEANING, LOSS_HINT)
    eps_hint = ("log(0) is -inf, and 0 * log(0) is NaN: clip the probabilities to at least self.eps before the log, "
                "and divide by the clipped ones in backward.")
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
    got = require_number(loss.forward(zero_on_target.copy(), one_hot([1], 3)), "CrossEntropyLoss.forward",
                         LOSS_MEANING, LOSS_HINT)
    grad = require_array(loss.backward(), (1, 3), "the gradient returned by CrossEntropyLoss.backward")
    if not (np.isfinite(got) and got > 0 and np.all(np.isfinite(grad))):
        raise CheckFailed(f"For probs = {zero_on_target.tolist()} and targets = [[0, 1, 0]], CrossEntropyLoss gave "
                          f"the loss {got} and the gradient {grad.tolist()}: both should be finite "
                          f"(about -log(eps) for the loss).", eps_hint)


MLP_STEPS, MLP_LR, MLP_TARGET = 40, 0.5, 0.3  # plain SGD steps, learning rate, final loss / first loss at most


def mlp_training(module):
    """Plain SGD on three blobs of 10 points in 4-D: the loss must fall well below where it started."""
    rng = inputs_rng()
    labels = np.arange(30) % 3
    x = (rng.normal(0.0, 2.0, (3, 4))[labels] + rng.normal(0.0, 0.5, (30, 4))).astype(np.float32)
    targets = one_hot(labels, 3, np.float32)
    model = module.MLP(4, [8], 3)
    for param in model.parameters():  # our own starting weights (Glorot uniform), the same on every run
        limit = np.sqrt(6.0 / sum(param.data.shape))
        param.data = rng.uniform(-limit, limit, param.data.shape).astype(np.float32)
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


def linear_checks():
    task = TASK["Linear"]
    return [
        Check(task, "Linear.forward shape and dtype", "forward", linear_forward_shape, weight=0),
        Check(task, "Linear.forward values", "forward", linear_forward_values),
        Check(task, "Linear.backward shapes and dtype", "backward", linear_backward_shapes, weight=0),
        Check(task, "Linear.backward dx", "backward", linear_backward_dx),
        Check(task, "Linear.backward dW", "backward", linear_backward_dW),
        Check(task, "Linear.backward db", "backward", linear_backward_db),
    ]


def loss_checks():
    task = TASK["CrossEntropyLoss"]
    return [
        Check(task, "CrossEntropyLoss.forward value", "forward", loss_forward_value),
        Check(task, "CrossEntropyLoss.backward shape and dtype", "backward", loss_backward_shape, weight=0),
        Check(task, "CrossEntropyLoss.backward dprobs", "backward", loss_backward_dprobs),
        Check(task, "CrossEntropyLoss stability with probabilities of 0", "stability", loss_stability),
    ]


def sigmoid_checks():
    checks = elementwise_checks(TASK["Sigmoid"], sigmoid_reference, -4.0, 4.0)
    return checks + [Check(TASK["Sigmoid"], "Sigmoid stability at x = -1000 and 1000", "stability",
                           sigmoid_stability)]


CHECKS = [
    *linear_checks(),
    *elementwise_checks(TASK["ReLU"], lambda x: np.maximum(x, 0.0), -2.0, 2.0),
    *sigmoid_checks(),
    *softmax_checks(),
    *loss_checks(),
    Check(TASK["MLP"], "MLP training lowers the loss", "integration", mlp_training),
]
