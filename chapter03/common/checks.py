"""The checks of chapter 3 (Sigmoid, Softmax: activation_checks.py): values and gradients against our own float64
references (never model.py), shapes and dtypes, stability, state across calls, MLP trained on a tiny problem."""

import numpy as np

from coursekit.gradcheck import (
    NOTES,
    CheckFailed,
    Size,
    gradient_of,
    inputs_rng,
    numeric_gradient,
    one_hot,
    random_inputs,
    require_array,
    require_close,
)
from coursekit.i18n import say
from coursekit.layer_checks import elementwise_checks, state_checks
from coursekit.report import Check

from .activation_checks import LOSS_SIZES, SIZES, D, M, N, sigmoid_checks, softmax_checks, softmax_reference
from .tasks import TASK


def cross_entropy_reference(probs, targets):
    return -np.sum(targets * np.log(np.maximum(probs, 1e-12))) / len(probs)


def linear_parameters(dtype):
    """Our W (D, M) and b (1, M): a nonzero bias, so that a forgotten one shows."""
    rng = inputs_rng(1)
    return rng.normal(0.0, 1.0, (D, M)).astype(dtype), rng.normal(0.0, 1.0, (1, M)).astype(dtype)


def new_linear(module, dtype):
    layer = module.Linear(D, M)
    layer.W.data, layer.b.data = linear_parameters(dtype)
    return layer


def linear_inputs():
    rng = inputs_rng()
    return (random_inputs(rng, (N, D)),), random_inputs(rng, (N, M))


def linear_forward_shape(module):
    (x,), _ = linear_inputs()
    require_array(new_linear(module, np.float32).forward(x.astype(np.float32)), (N, M), "Linear.forward(x)",
                  np.float32, SIZES)


def linear_forward_values(module):
    (W, b), ((x,), _) = linear_parameters(np.float64), linear_inputs()
    got = require_array(new_linear(module, np.float64).forward(x.copy()), (N, M), "Linear.forward(x)", sizes=SIZES)
    require_close(got, x @ W + b, "y = Linear.forward(x)", SIZES,
                  [(x @ W, say("Linear.forward forgot the bias: it returned x @ W, not x @ W + b.",
                               "Linear.forward 忘了偏置：返回的是 x @ W，不是 x @ W + b。"), "")])


def linear_backward_shapes(module):
    layer, ((x,), dout) = new_linear(module, np.float32), linear_inputs()
    layer.forward(x.astype(np.float32))
    require_array(layer.backward(dout.astype(np.float32)), (N, D), gradient_of("Linear"), np.float32, SIZES)
    require_array(layer.W.grad, (D, M), "W.grad", np.float32, SIZES)
    require_array(layer.b.grad, (1, M), "b.grad", np.float32, SIZES)


def linear_backward(which):
    """The check of one gradient (dx, dW or db) of sum((x @ W + b) * grad_output): a wrong shape fails only its own."""

    def check(module):
        (W, b), ((x,), dout) = linear_parameters(np.float64), linear_inputs()
        layer = new_linear(module, np.float64)
        layer.forward(x.copy())
        grad_x = layer.backward(dout.copy())
        ours, what = {"dx": (x, gradient_of("Linear", "dx")), "dW": (W, "W.grad"), "db": (b, "b.grad")}[which]
        got = require_array(grad_x if which == "dx" else getattr(layer, which[1]).grad, ours.shape, what, sizes=SIZES)
        W_now = np.asarray(layer.W.data, dtype=np.float64) if which == "dx" else W
        changed = [] if np.allclose(W_now, W) else [(dout @ W_now.T, say(
            "dx was computed with a W that backward had already changed: see the check "
            "'Linear.backward leaves W.data and b.data unchanged'.",
            "dx 是用 backward 中途改过的 W 算的：见检查“Linear.backward 不改动 W.data 和 b.data”。"), "")]
        require_close(got, numeric_gradient(lambda: np.sum((x @ W + b) * dout), ours), what, SIZES, changed)

    return check


def linear_checks():
    task = TASK["Linear"]
    kept = ("x is the output of the layer before (a Sigmoid, in the MLP), which keeps it as y for its own backward: "
            "changing x changes that layer's gradient.",
            "x 是前一层（在 MLP 里是 Sigmoid）的输出，那一层把它存为 y 留给自己的 backward 用：改了 x，那一层的梯度"
            "就错了。")
    dW = Check(task, "Linear.backward dW", "backward", linear_backward("dW"), sizes=SIZES)
    db = Check(task, "Linear.backward db", "backward", linear_backward("db"), sizes=SIZES)
    return [
        Check(task, "Linear.forward shape and dtype", "forward", linear_forward_shape, weight=0, sizes=SIZES),
        Check(task, "Linear.forward values", "forward", linear_forward_values, sizes=SIZES),
        Check(task, "Linear.backward shapes and dtype", "backward", linear_backward_shapes, weight=0, sizes=SIZES),
        Check(task, "Linear.backward dx", "backward", linear_backward("dx"), sizes=SIZES),
        dW, db,
        *state_checks(task, lambda module: new_linear(module, np.float64), linear_inputs, parameters=("W", "b"),
                      kept_by={"x": kept}, sizes=SIZES, after=(dW, db)),  # not dx: a changed W makes it wrong
    ]


def loss_inputs():
    """probs (N, M) away from 0 (as after a softmax) and one-hot targets (N, M)."""
    probs = softmax_reference(random_inputs(inputs_rng(), (N, M), -1.0, 1.0))
    return probs, one_hot(np.arange(N) % M, M)


def loss_number(got, what, noted=False):
    """got must be one real number: a NumPy scalar or 0-d array works in training (noted=True: a note names
    float()), an array with axes, even of shape (1,), does not (math.isfinite(loss), f"{loss:.4f}")."""
    if got is None:
        raise CheckFailed(say(f"{what} is None: is a `return` missing?", f"{what} 是 None：是不是少了 `return`？"))
    if np.ndim(got) != 0 or not np.isrealobj(got) or isinstance(got, (str, bytes, bool)):
        kind = (say(f"an array of shape {np.shape(got)}", f"一个形状为 {np.shape(got)} 的数组")
                if isinstance(got, np.ndarray) else say(f"a {type(got).__name__}", f"一个 {type(got).__name__}"))
        raise CheckFailed(say(f"{what} should be one number, the mean over the batch, got {kind}.",
                              f"{what} 应该是一个数（这一批的平均值），实际得到{kind}。"),
                          say("Sum over the classes and average over the N examples: the loss is a single float "
                              "(float(...)); an array of shape (1,) is still an array.",
                              "对类别求和、对 N 个样本求平均：损失是一个 float（float(...)）；形状为 (1,) 的数组仍然是"
                              "数组。"))
    if noted and type(got) not in (float, int):
        kind = type(got).__name__
        NOTES.append(say(f"{what} returned a {kind} (NumPy's), not a Python float. Training works with it, as it has "
                         f"no axes; return float(...), as the docstring says. (An array with axes, even of shape "
                         f"(1,), would fail.)",
                         f"{what} 返回的是 NumPy 的 {kind}，不是 Python 的 float。它没有轴，训练照样能用；按"
                         f"文档字符串写 return float(...)。（带轴的数组，哪怕形状是 (1,)，都不行。）"))
    return float(got)


def averaged_over_all(value):
    return (value / M, say(f"The loss was averaged over all N·M = {N * M} entries (np.mean of an (N, M) array): "
                           f"average over the N = {N} examples only, after summing over the M classes.",
                           f"损失对全部 N·M = {N * M} 个元素求了平均（对 (N, M) 数组用了 np.mean）：应该先对 M 个类别"
                           f"求和，再只对 N = {N} 个样本求平均。"), "")


def loss_forward_value(module):
    probs, targets = loss_inputs()
    got = loss_number(module.CrossEntropyLoss().forward(probs.copy(), targets.copy()),
                      "CrossEntropyLoss.forward(probs, targets)", noted=True)
    expected = cross_entropy_reference(probs, targets)
    require_close(got, expected, "L = CrossEntropyLoss.forward(probs, targets)", LOSS_SIZES,
                  [averaged_over_all(expected)])


def loss_backward(module, dtype):
    """(probs, targets, what backward returned after forward on copies of them in dtype)."""
    probs, targets = loss_inputs()
    loss = module.CrossEntropyLoss()
    loss.forward(probs.astype(dtype), targets.astype(dtype))
    return probs, targets, loss.backward()


def loss_backward_shape(module):
    require_array(loss_backward(module, np.float32)[2], (N, M), gradient_of("CrossEntropyLoss"), np.float32, LOSS_SIZES)


def loss_backward_dprobs(module):
    probs, targets, grad = loss_backward(module, np.float64)
    what = gradient_of("CrossEntropyLoss", "dprobs")
    got = require_array(grad, (N, M), what, sizes=LOSS_SIZES)
    expected = numeric_gradient(lambda: cross_entropy_reference(probs, targets), probs)
    fused = ((probs - targets) / N, say("CrossEntropyLoss.backward returned (probs - targets) / N.",
                                        "CrossEntropyLoss.backward 返回的是 (probs - targets) / N。"),
             say("(probs - targets) / N is the gradient with respect to the logits before Softmax (loss and softmax "
                 "fused). Here Softmax.backward follows, so return the gradient with respect to probs.",
                 "(probs - targets) / N 是对 Softmax 之前的得分（logits）的梯度（损失和 Softmax 合在一起）。这里后面"
                 "还有 Softmax.backward，所以要返回对 probs 的梯度。"))
    precedence = [(-targets / N * probs, say("CrossEntropyLoss.backward multiplied by probs where it should divide: "
                                             "Python reads -targets / N * probs as (-targets / N) * probs.",
                                             "CrossEntropyLoss.backward 乘了 probs，应该除以它：Python 把 "
                                             "-targets / N * probs 读作 (-targets / N) * probs。"),
                   say("Write -targets / probs / N, or -targets / (N * probs).",
                       "写成 -targets / probs / N，或者 -targets / (N * probs)。")),
                  (expected * N * N, say("CrossEntropyLoss.backward multiplied by N where it should divide: Python "
                                         "reads -targets / probs * N as (-targets / probs) * N.",
                                         "CrossEntropyLoss.backward 乘了 N，应该除以 N：Python 把 -targets / probs * N "
                                         "读作 (-targets / probs) * N。"),
                   say("Write -targets / probs / N.", "写成 -targets / probs / N。"))]
    require_close(got, expected, what, LOSS_SIZES, [fused, averaged_over_all(expected), *precedence])


def loss_stability(module):
    """Zeros where the target is 0 (clipped harmlessly), then a zero where it is 1 (sure and wrong): finite."""
    eps_hint = say("log(0) is -inf, and 0 * log(0) is NaN: clip the probabilities to at least self.eps before the "
                   "log, and divide by the clipped ones in backward.",
                   "log(0) 是 -inf，而 0 * log(0) 是 NaN：取 log 之前先把概率截断到至少 self.eps，backward 里也除以截断"
                   "后的概率。")
    loss = module.CrossEntropyLoss()
    for probs, targets in ((np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]), one_hot([1, 0], 3)),
                           (np.array([[1.0, 0.0, 0.0]]), one_hot([1], 3))):
        got = loss_number(loss.forward(probs.copy(), targets.copy()), "CrossEntropyLoss.forward")
        grad = require_array(loss.backward(), targets.shape, gradient_of("CrossEntropyLoss"))
        expected = cross_entropy_reference(probs, targets)
        if not (np.isfinite(got) and np.all(np.isfinite(grad))):
            raise CheckFailed(say(f"For probs = {probs.tolist()} and targets = {targets.tolist()}, CrossEntropyLoss "
                                  f"gave the loss {got} (expected {expected:.6g}) and the gradient {grad.tolist()}: "
                                  f"both should be finite.",
                                  f"probs = {probs.tolist()}、targets = {targets.tolist()} 时，CrossEntropyLoss 给出的"
                                  f"损失是 {got}（期望值 {expected:.6g}），梯度是 {grad.tolist()}：两者都应该是有限"
                                  f"的数。"),
                              eps_hint, got=got, expected=expected)
        if len(probs) > 1:  # where the target's probability is 0, any eps of the order of 1e-12 will do
            sizes = (Size("N", 2, "the batch size", "批量大小"), Size("M", 3, "the number of classes", "类别数"))
            require_close(got, expected, f"CrossEntropyLoss.forward, probs = {probs.tolist()}", sizes)


def one_hot_index(error, call):
    if isinstance(error, IndexError) and (call or "").startswith("CrossEntropyLoss"):
        return say("It looks like probs was indexed with targets as if they were integer labels "
                   "(probs[range(N), targets]). Here targets are one-hot, an (N, M) array of 0.0 and 1.0: write "
                   "-sum(targets * log(probs)) / N, or get the labels with targets.argmax(axis=1).",
                   "看起来是把 targets 当成整数标签去索引 probs 了（probs[range(N), targets]）。这里的 targets 是 "
                   "one-hot 编码，一个由 0.0 和 1.0 组成的 (N, M) 数组：写成 -sum(targets * log(probs)) / N，或者用 "
                   "targets.argmax(axis=1) 得到标签。")
    return ""


def loss_checks():
    task = TASK["CrossEntropyLoss"]
    kept = ("probs is the output of Softmax, which keeps it as y for its own backward: changing probs changes "
            "Softmax's gradient.",
            "probs 是 Softmax 的输出，Softmax 把它存为 y 留给自己的 backward 用：改了 probs，Softmax 的梯度就错了。")

    def inputs():  # one probability below eps, where the target is 0: clipping it is harmless
        probs, targets = loss_inputs()
        probs[0, -1] = 1e-20
        return (probs, targets), None

    def check(name, part, function, weight=1):
        return Check(task, name, part, function, weight=weight, sizes=LOSS_SIZES, explain_error=one_hot_index)

    dprobs = check("CrossEntropyLoss.backward dprobs", "backward", loss_backward_dprobs)
    return [
        check("CrossEntropyLoss.forward value", "forward", loss_forward_value),
        check("CrossEntropyLoss.backward shape and dtype", "backward", loss_backward_shape, weight=0),
        dprobs,
        check("CrossEntropyLoss stability with probabilities of 0", "stability", loss_stability),
        *state_checks(task, lambda module: module.CrossEntropyLoss(), inputs, input_names=("probs", "targets"),
                      kept_by={"probs": kept}, sizes=LOSS_SIZES, after=(dprobs,)),
    ]


MLP_STEPS, MLP_LR, MLP_TARGET = 40, 0.5, 0.3  # plain SGD steps, learning rate, final loss / first loss at most


def mlp_training(module):
    """Plain SGD on three blobs of 10 points in 4-D: the loss must fall well below where it started."""
    rng = inputs_rng()
    labels = np.arange(30) % 3
    # Well-separated centres (3 * the unit vectors, rotated): every seed gives a problem the reference solves.
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    centres = 3.0 * np.eye(3, 4) @ rotation
    x = (centres[labels] + rng.normal(0.0, 0.5, (30, 4))).astype(np.float32)
    targets = one_hot(labels, 3, np.float32)
    model = module.MLP(4, [8], 3)
    for param in model.parameters():  # our own starting weights (Glorot uniform), the same on every run
        limit = np.sqrt(6.0 / sum(param.data.shape))
        param.data = rng.uniform(-limit, limit, param.data.shape).astype(np.float32)
    loss_fn = module.CrossEntropyLoss()
    losses = []
    for step in range(MLP_STEPS + 1):
        probs = require_array(model.forward(x), (30, 3), "MLP.forward(x)")
        losses.append(cross_entropy_reference(probs.astype(np.float64), targets))
        if step == MLP_STEPS or not np.isfinite(losses[-1]):
            break
        loss_fn.forward(probs, targets)
        model.backward(loss_fn.backward())
        for p in model.parameters():
            require_array(p.grad, p.data.shape, say("a Parameter's grad", "某个 Parameter 的 grad"))
            p.data = p.data - MLP_LR * p.grad
    if not (np.isfinite(losses[-1]) and losses[-1] < MLP_TARGET * losses[0]):
        shown = ", ".join(f"{loss:.3f}" for loss in losses[:: max(1, len(losses) // 6)])
        raise CheckFailed(say(f"{len(losses) - 1} steps of SGD (lr {MLP_LR}) on a tiny problem should bring the loss "
                              f"from {losses[0]:.3f} below {MLP_TARGET * losses[0]:.3f}; it went {shown}, "
                              f"ending at {losses[-1]:.4g}.",
                              f"在一个很小的问题上做 {len(losses) - 1} 步 SGD（学习率 {MLP_LR}），损失应该从 "
                              f"{losses[0]:.3f} 降到 {MLP_TARGET * losses[0]:.3f} 以下；实际是 {shown}，最后为 "
                              f"{losses[-1]:.4g}。"))


LAYER_CHECKS = [*linear_checks(),
                *elementwise_checks(TASK["ReLU"], lambda x: np.maximum(x, 0.0), -2.0, 2.0),
                *sigmoid_checks(), *softmax_checks(), *loss_checks()]
MLP_NEEDS = tuple(check for check in LAYER_CHECKS  # what MLP runs must work first: else "not run", not a FAIL
                  if check.cls in ("Linear", "Sigmoid", "Softmax", "CrossEntropyLoss")
                  and check.part in ("forward", "backward") and check.weight)
CHECKS = [*LAYER_CHECKS,
          Check(TASK["MLP"], "MLP training lowers the loss", "integration", mlp_training, after=MLP_NEEDS,
                replay=False)]
