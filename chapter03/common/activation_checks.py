"""The checks of chapter 3's element-wise and row-wise activations, Sigmoid and Softmax (chapter03/common/checks.py
gathers every check of the chapter): their references in float64, the mistakes students make with them, named when
a result matches one, and the inputs that break a careless implementation (stability).
"""

import numpy as np

from coursekit.gradcheck import (
    CheckFailed,
    Size,
    inputs_rng,
    numeric_gradient,
    random_inputs,
    require_array,
    require_close,
    show,
)
from coursekit.i18n import say
from coursekit.layer_checks import elementwise_checks, elementwise_inputs, state_checks
from coursekit.report import Check

from .tasks import TASK

N, D, M = 3, 4, 5  # batch size, input features, output features: all different, so that a shape slip shows
SIZES = (Size("N", N, "the batch size", "批量大小"), Size("D", D, "the number of input features", "输入维数"),
         Size("M", M, "the number of output features", "输出维数"))
LOSS_SIZES = (SIZES[0], Size("M", M, "the number of classes", "类别数"))


def sigmoid_reference(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax_reference(x):
    exps = np.exp(x - np.max(x, axis=-1, keepdims=True))  # written apart from solution/model.py's line
    return exps / exps.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------------
# Sigmoid


def sigmoid_mistakes(x, y, dout):
    return [(dout * x * (1.0 - x),
             say("Sigmoid.backward used x where the formula has y: dx = grad_output * y * (1 - y), with the y that "
                 "forward kept, not the input x.",
                 "Sigmoid.backward 在公式该用 y 的地方用了 x：dx = grad_output * y * (1 - y)，其中 y 是 forward 存下的"
                 "输出，不是输入 x。"),
             say("The handout calls this the common mistake: sigma'(x) = y (1 - y) is written with the output y.",
                 "讲义里专门提到这是常见错误：sigma'(x) = y (1 - y) 是用输出 y 写的。"))]


def sigmoid_stability(module):
    for dtype in (np.float32, np.float64):
        x = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=dtype)
        layer = module.Sigmoid()
        y = require_array(layer.forward(x.copy()), x.shape, f"Sigmoid.forward(x) in {np.dtype(dtype).name}")
        if np.any(np.isnan(y)):
            raise CheckFailed(say(f"Sigmoid.forward of {x.ravel().tolist()} in {np.dtype(dtype).name} gave "
                                  f"{y.ravel().tolist()}: NaN where {[0.0, 0.0, 0.5, 1.0, 1.0]} was expected.",
                                  f"Sigmoid.forward 对 {x.ravel().tolist()}（{np.dtype(dtype).name}）给出了 "
                                  f"{y.ravel().tolist()}：期望值是 {[0.0, 0.0, 0.5, 1.0, 1.0]}，却出现了 NaN。"),
                              say("exp() of a large number is inf, and inf / inf is NaN. The handout gives a form of "
                                  "the sigmoid that never overflows.",
                                  "很大的数的 exp() 是 inf，而 inf / inf 是 NaN。讲义里给了一个永远不会溢出的 sigmoid "
                                  "写法。"))
        require_close(y, np.array([[0.0, 0.0, 0.5, 1.0, 1.0]]), f"Sigmoid.forward(x), x = {x.ravel().tolist()}")
        grad = require_array(layer.backward(np.ones_like(x)), x.shape,
                             say("the gradient returned by Sigmoid.backward", "Sigmoid.backward 返回的梯度"))
        require_close(grad, np.array([[0.0, 0.0, 0.25, 0.0, 0.0]]), f"Sigmoid.backward(1), x = {x.ravel().tolist()}")


def sigmoid_checks():
    task = TASK["Sigmoid"]
    values = elementwise_checks(task, sigmoid_reference, -4.0, 4.0, sigmoid_mistakes)
    return [*values, Check(task, "Sigmoid stability at x = -1000 and 1000", "stability", sigmoid_stability),
            *state_checks(task, lambda module: module.Sigmoid(), elementwise_inputs(-4.0, 4.0), after=values[3:])]


# ---------------------------------------------------------------------------------------------------------------
# Softmax


def softmax_inputs():
    rng = inputs_rng()
    return (random_inputs(rng, (N, M)),), random_inputs(rng, (N, M))


def softmax_forward_shape(module):
    x = random_inputs(inputs_rng(), (N, M)).astype(np.float32)
    require_array(module.Softmax().forward(x), (N, M), "Softmax.forward(x)", np.float32, SIZES)


def softmax_forward_values(module):
    x = random_inputs(inputs_rng(), (N, M), -3.0, 3.0)
    got = require_array(module.Softmax().forward(x.copy()), (N, M), "Softmax.forward(x)", sizes=SIZES)
    sums = got.sum(axis=-1)
    if not np.allclose(sums, 1.0) and np.allclose(got.sum(axis=0), 1.0):
        raise CheckFailed(say(f"The columns of y = Softmax.forward(x) sum to 1, not its rows (row sums: "
                              f"{np.round(sums, 4).tolist()}): the softmax was taken over the wrong axis.",
                              "y = Softmax.forward(x) 是每一列的和为 1，而不是每一行（各行的和"
                              f"：{np.round(sums, 4).tolist()}）："
                              f"softmax 沿错了轴。"),
                          say("Each row is one example: sum over the last axis (axis=-1, keepdims=True).",
                              "每一行是一个样本：沿最后一个轴求和（axis=-1, keepdims=True）。"), got=got)
    require_close(got, softmax_reference(x), "y = Softmax.forward(x)", SIZES)


def softmax_backward_shape(module):
    layer = module.Softmax()
    layer.forward(random_inputs(inputs_rng(), (N, M)).astype(np.float32))
    require_array(layer.backward(np.ones((N, M), dtype=np.float32)), (N, M),
                  say("the gradient returned by Softmax.backward", "Softmax.backward 返回的梯度"), np.float32, SIZES)


def softmax_backward_dx(module):
    (x,), dout = softmax_inputs()
    layer = module.Softmax()
    layer.forward(x.copy())
    what = say("dx, the gradient returned by Softmax.backward", "dx（Softmax.backward 返回的梯度）")
    got = require_array(layer.backward(dout.copy()), (N, M), what, sizes=SIZES)
    y = softmax_reference(x)
    mistakes = [
        (dout, say("Softmax.backward returned grad_output unchanged.", "Softmax.backward 把 grad_output 原样返回了。"),
         say("The gradient has to go through the softmax: each output of a row depends on every input of the row.",
             "梯度必须穿过 softmax：一行里的每个输出都依赖这一行的所有输入。")),
        (dout * y * (1 - y), say("Softmax.backward returned grad_output * y * (1 - y): only the diagonal of the "
                                 "Jacobian.",
                                 "Softmax.backward 返回的是 grad_output * y * (1 - y)：只有雅可比矩阵的对角线。"),
         say("y_j depends on every x_k of its row, not only on x_j: the off-diagonal terms -y_j * y_k count too.",
             "y_j 依赖这一行所有的 x_k，不只是 x_j：对角线以外的 -y_j * y_k 也要算上。")),
    ]
    require_close(got, numeric_gradient(lambda: np.sum(softmax_reference(x) * dout), x), what, SIZES, mistakes)


def softmax_stability(module):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1002.0, -1001.0, -1000.0]])
    expected = softmax_reference(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]))
    for dtype in (np.float32, np.float64):
        y = require_array(module.Softmax().forward(x.astype(dtype)), x.shape, "Softmax.forward(x)")
        if np.any(np.isnan(y)):
            raise CheckFailed(say(f"Softmax.forward of {x.tolist()} in {np.dtype(dtype).name} gave NaN:",
                                  f"Softmax.forward 对 {x.tolist()}（{np.dtype(dtype).name}）给出了 NaN：")
                              + "\n" + show(y, "got      ") + "\n" + show(expected, "expected "),
                              say("exp(1000) overflows to inf (and exp(-1000) to 0), then inf / inf or 0 / 0 is NaN. "
                                  "Subtract each row's own maximum before exp().",
                                  "exp(1000) 溢出成 inf（exp(-1000) 下溢成 0），于是 inf / inf 或 0 / 0 得到 NaN。"
                                  "在 exp() 之前先减去每一行自己的最大值。"))
        require_close(y, expected, f"Softmax.forward(x), x = {x.tolist()}")


def softmax_checks():
    task = TASK["Softmax"]
    dx = Check(task, "Softmax.backward dx", "backward", softmax_backward_dx, sizes=SIZES)
    return [
        Check(task, "Softmax.forward shape and dtype", "forward", softmax_forward_shape, weight=0, sizes=SIZES),
        Check(task, "Softmax.forward values", "forward", softmax_forward_values, sizes=SIZES),
        Check(task, "Softmax.backward shape and dtype", "backward", softmax_backward_shape, weight=0, sizes=SIZES),
        dx,
        Check(task, "Softmax stability at x = [1000, 1001, 1002]", "stability", softmax_stability),
        *state_checks(task, lambda module: module.Softmax(), softmax_inputs, sizes=SIZES, after=(dx,)),
    ]
