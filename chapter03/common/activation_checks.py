"""The checks of Sigmoid and Softmax (checks.py gathers the chapter's): their references in float64, the mistakes
students make with them, named when a result matches one, and the inputs that break a careless implementation."""

import numpy as np

from coursekit.gradcheck import CheckFailed, Size, gradient_of, require_array, require_close
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


def sigmoid_mistakes(x, y, dout):
    return [(dout * x * (1.0 - x),
             say("Sigmoid.backward used x where the formula has y: dx = grad_output * y * (1 - y), with the y that "
                 "forward kept, not the input x.",
                 "Sigmoid.backward 在公式该用 y 的地方用了 x：dx = grad_output * y * (1 - y)，其中 y 是 forward 存下的"
                 "输出，不是输入 x。"),
             say("The handout calls this the common mistake: sigma'(x) = y (1 - y) is written with the output y.",
                 "讲义里专门提到这是常见错误：sigma'(x) = y (1 - y) 是用输出 y 写的。"))]


def sigmoid_forward_mistakes(x, y):
    with np.errstate(all="ignore"):  # x = 1000 in the stability check: exp overflows to inf in a mistake, harmlessly
        return [(sigmoid_reference(-x),
                 say("Sigmoid.forward computed 1 / (1 + exp(x)), which is sigma(-x) = 1 - sigma(x): a minus sign was "
                     "lost. The formula has exp(-x) (tanh(0.5 * x) in the form that never overflows).",
                     "Sigmoid.forward 算的是 1 / (1 + exp(x))，也就是 sigma(-x) = 1 - sigma(x)：丢了一个负号。公式里是 "
                     "exp(-x)（不会溢出的写法里是 tanh(0.5 * x)）。"), ""),
                (np.floor(y), say("Every value of y is 0, though a sigmoid lies between 0 and 1: a floor division // "
                                  "rounds each quotient down to a whole number (1 // (1 + e) is 0). Divide with /.",
                                  "y 的每个值都是 0，可 Sigmoid 的值在 0 和 1 之间：整除 // 把每个商向下取整成整数"
                                  "（1 // (1 + e) 是 0）。除法要用 /。"), ""),
                (1.0 + np.exp(-x), say("Sigmoid.forward computed 1 / 1 + exp(-x) = 1 + exp(-x): Python divides before "
                                       "it adds. Write 1 / (1 + np.exp(-x)).",
                                       "Sigmoid.forward 算的是 1 / 1 + exp(-x) = 1 + exp(-x)：Python 先算除法再算加法。"
                                       "写成 1 / (1 + np.exp(-x))。"), "")]


def sigmoid_stability(module):
    for dtype in (np.float32, np.float64):
        x = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=dtype)
        layer = module.Sigmoid()
        y = require_array(layer.forward(x.copy()), x.shape, f"Sigmoid.forward(x) in {np.dtype(dtype).name}")
        expected = np.array([[0.0, 0.0, 0.5, 1.0, 1.0]])
        require_close(y, expected, f"Sigmoid.forward(x), x = {x.ravel().tolist()} ({np.dtype(dtype).name})", (),
                      sigmoid_forward_mistakes(x.astype(np.float64), expected),
                      say("exp() of a large number is inf, and inf / inf is NaN. The handout gives a form of the "
                          "sigmoid that never overflows.",
                          "很大的数的 exp() 是 inf，而 inf / inf 是 NaN。讲义里给了一个永远不会溢出的 Sigmoid 写法。"))
        grad = require_array(layer.backward(np.ones_like(x)), x.shape, gradient_of("Sigmoid"))
        require_close(grad, np.array([[0.0, 0.0, 0.25, 0.0, 0.0]]), f"Sigmoid.backward(1), x = {x.ravel().tolist()}")


def sigmoid_checks():
    task = TASK["Sigmoid"]
    values = elementwise_checks(task, sigmoid_reference, -4.0, 4.0, sigmoid_mistakes, sigmoid_forward_mistakes,
                                lambda y, dout: dout * y * (1.0 - y))
    return [*values, Check(task, "Sigmoid stability at x = -1000 and 1000", "stability", sigmoid_stability),
            *state_checks(task, lambda module: module.Sigmoid(), elementwise_inputs(-4.0, 4.0), after=values[3:])]


def softmax_rows(got, expected, what):
    """CheckFailed when the columns sum to 1, not the rows; when each row is proportional to the right one but was
    divided by the wrong sum; when only rows far below the batch's maximum are NaN (x - x.max())."""
    sums = got.sum(axis=-1, keepdims=True)
    shown = np.round(sums.ravel(), 4).tolist()
    if not np.allclose(sums, 1.0) and np.allclose(got.sum(axis=0), 1.0):
        raise CheckFailed(say(f"The columns of {what} sum to 1, not its rows (row sums: {shown}): the softmax was "
                              f"taken over the wrong axis.",
                              f"{what} 是每一列的和为 1，而不是每一行（各行的和：{shown}）：Softmax 沿错了轴。"),
                          say("Each row is one example: sum over the last axis (axis=-1, keepdims=True).",
                              "每一行是一个样本：沿最后一个轴求和（axis=-1, keepdims=True）。"), got=got)
    nan_rows = np.isnan(got).any(axis=-1)
    if nan_rows.any() and not nan_rows.all() and np.allclose(got[~nan_rows], expected[~nan_rows], atol=1e-6):
        raise CheckFailed(say(f"{what} is NaN in the rows {np.flatnonzero(nan_rows).tolist()} only, those far below "
                              f"the largest value of the whole batch: x - x.max() subtracts the batch's maximum, so "
                              f"exp() of those rows underflows to 0 and 0 / 0 is NaN.",
                              f"{what} 只在第 {np.flatnonzero(nan_rows).tolist()} 行是 NaN，这些行远小于整批的最大值："
                              f"x - x.max() 减去的是整批的最大值，这些行的 exp() 下溢成 0，0 / 0 得到 NaN。"),
                          say("Subtract each row's own maximum: x.max(axis=-1, keepdims=True).",
                              "减去每一行自己的最大值：x.max(axis=-1, keepdims=True)。"), got=got, expected=expected)
    if not np.all(np.isfinite(got)) or np.allclose(sums, 1.0) or not np.all(sums > 0):
        return
    if np.allclose(got / sums, expected, atol=1e-6):
        whole = np.isclose(got.sum(), 1.0)
        cause = (say("each row was divided by the sum of the whole batch (np.sum with no axis), not by its own sum",
                     "每一行除以的是整批的和（不写 axis 的 np.sum），而不是这一行自己的和") if whole else
                 say("each row was divided by something other than its own sum", "每一行除以的不是这一行自己的和"))
        raise CheckFailed(say(f"The rows of {what} have the right proportions but do not sum to 1 (row sums: "
                              f"{shown}): {cause}.",
                              f"{what} 每一行的比例是对的，但各行的和不是 1（各行的和：{shown}）：{cause}。"),
                          say("Each row is one example: exps / exps.sum(axis=-1, keepdims=True).",
                              "每一行是一个样本：exps / exps.sum(axis=-1, keepdims=True)。"),
                          got=got, expected=expected, tolerance=1e-6)


def softmax_mistakes(x, y, dout):
    row = (dout * y).sum(axis=-1, keepdims=True)
    return [
        (y * (dout - np.sum(dout * y)),
         say("Softmax.backward summed grad_output * y over the whole batch (np.sum with no axis): each row's "
             "gradient must use the sum of its own row only.",
             "Softmax.backward 对整批的 grad_output * y 求了和（不写 axis 的 np.sum）：每一行的梯度只能用这一行自己"
             "的和。"),
         say("(grad_output * self.y).sum(axis=-1, keepdims=True): one sum per row.",
             "(grad_output * self.y).sum(axis=-1, keepdims=True)：每行一个和。")),
        (y * (dout - (dout * y).sum(axis=0, keepdims=True)),
         say("Softmax.backward summed grad_output * y over the batch axis (axis=0), not over each row (axis=-1).",
             "Softmax.backward 沿批量的轴（axis=0）对 grad_output * y 求和了，应该沿每一行（axis=-1）。"), ""),
        (y * (dout - dout.sum(axis=-1, keepdims=True)),
         say("Softmax.backward subtracted the row sum of grad_output alone: the term is the sum over k of "
             "grad_output_k * y_k, so the sum needs y: (grad_output * self.y).sum(axis=-1, keepdims=True).",
             "Softmax.backward 减去的是 grad_output 本身的行和：这一项是对 k 求和的 grad_output_k * y_k，求和里要乘上 "
             "y：(grad_output * self.y).sum(axis=-1, keepdims=True)。"), ""),
        (y * dout - row,
         say("Softmax.backward computed y * grad_output - sum: y multiplies the whole bracket, "
             "y * (grad_output - sum) (Python multiplies before it subtracts).",
             "Softmax.backward 算的是 y * grad_output - sum：y 要乘整个括号，y * (grad_output - sum)（Python 先算乘法"
             "再算减法）。"), ""),
        (dout, say("Softmax.backward returned grad_output unchanged.", "Softmax.backward 把 grad_output 原样返回了。"),
         say("The gradient has to go through the softmax: each output of a row depends on every input of the row.",
             "梯度必须穿过 Softmax：一行里的每个输出都依赖这一行的所有输入。")),
        (dout * y * (1 - y), say("Softmax.backward returned grad_output * y * (1 - y): only the diagonal of the "
                                 "Jacobian.",
                                 "Softmax.backward 返回的是 grad_output * y * (1 - y)：只有雅可比矩阵的对角线。"),
         say("y_j depends on every x_k of its row, not only on x_j: the off-diagonal terms -y_j * y_k count too.",
             "y_j 依赖这一行所有的 x_k，不只是 x_j：对角线以外的 -y_j * y_k 也要算上。")),
    ]


def softmax_stability(module):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1002.0, -1001.0, -1000.0]])
    expected = softmax_reference(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]))
    for dtype in (np.float32, np.float64):
        what = f"Softmax.forward(x), x = {x.tolist()} ({np.dtype(dtype).name})"
        y = require_array(module.Softmax().forward(x.astype(dtype)), x.shape, "Softmax.forward(x)")
        softmax_rows(np.asarray(y, dtype=np.float64), expected, what)
        require_close(y, expected, what, (), (),
                      say("exp(1000) overflows to inf (and exp(-1000) to 0), then inf / inf or 0 / 0 is NaN. "
                          "Subtract each row's own maximum before exp().",
                          "exp(1000) 溢出成 inf（exp(-1000) 下溢成 0），于是 inf / inf 或 0 / 0 得到 NaN。"
                          "在 exp() 之前先减去每一行自己的最大值。"))


def softmax_checks():
    task = TASK["Softmax"]
    values = elementwise_checks(task, softmax_reference, mistakes=softmax_mistakes, shape=(N, M), sizes=SIZES,
                                from_output=lambda y, dout: y * (dout - (dout * y).sum(axis=-1, keepdims=True)),
                                before_compare=softmax_rows)
    return [*values, Check(task, "Softmax stability at x = [1000, 1001, 1002]", "stability", softmax_stability),
            *state_checks(task, lambda module: module.Softmax(), elementwise_inputs(shape=(N, M)), sizes=SIZES,
                          after=values[3:])]
