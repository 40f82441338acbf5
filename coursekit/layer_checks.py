"""Checks any chapter can reuse: elementwise_checks (a layer y = f(x) by element or by row: forward, backward, shapes,
dtypes) and state_checks (backward twice gives the same; parameters and inputs left unchanged)."""

import numpy as np

from .gradcheck import (
    NOTES,
    TOLERANCE,
    CheckFailed,
    Size,
    WaitsFor,
    gradient_of,
    inputs_rng,
    label,
    numeric_gradient,
    random_inputs,
    require_array,
    require_close,
    scale_factor,
    show,
)
from .i18n import say
from .report import Check

N, D = 3, 4  # batch size and features of the inputs: different, so that a transposed result shows
SIZES = (Size("N", N, "the batch size", "批量大小"), Size("D", D, "the number of features", "特征数"))
ROUNDING = 1e-9  # a change of an input smaller than this (relative) is rounding, not a change


def elementwise_checks(task, reference, low=-2.0, high=2.0, mistakes=None, forward_mistakes=None, from_output=None,
                       shape=(N, D), sizes=SIZES, before_compare=None):
    """The four checks of a layer y = f(x) (ReLU, Sigmoid, Softmax...): forward and backward, shapes and values.
    reference(x): the layer in float64, on inputs from [low, high) of this shape. mistakes(x, y, grad_output),
    forward_mistakes(x, y): [(value, message, hint)] of known wrong results. from_output(y, grad_output): dx from
    forward's output alone: a backward right for a wrong y waits for forward's values. before_compare(got, y, what):
    a chapter's own test of forward's values, run before they are compared."""
    cls, values_check = task.cls, f"{task.cls}.forward values"
    inputs = elementwise_inputs(low, high, shape)

    def forward_shape(module):
        (x,), _ = inputs()
        require_array(getattr(module, cls)().forward(x.astype(np.float32)), shape, f"{cls}.forward(x)", np.float32,
                      sizes)

    def forward_values(module):
        (x,), _ = inputs()
        got = require_array(getattr(module, cls)().forward(x.copy()), shape, f"{cls}.forward(x)", sizes=sizes)
        y, what = reference(x), f"y = {cls}.forward(x)"
        if before_compare:
            before_compare(got, y, what)
        require_close(got, y, what, sizes, forward_mistakes(x, y) if forward_mistakes else ())

    def backward_shape(module):
        (x,), _ = inputs()
        layer = getattr(module, cls)()
        layer.forward(x.astype(np.float32))
        require_array(layer.backward(np.ones(shape, dtype=np.float32)), shape, gradient_of(cls), np.float32, sizes)

    def backward_dx(module):
        (x,), dout = inputs()
        layer = getattr(module, cls)()
        y = layer.forward(x.copy())
        what = gradient_of(cls, "dx")
        got = require_array(layer.backward(dout.copy()), shape, what, sizes=sizes)
        expected = numeric_gradient(lambda: np.sum(reference(x) * dout), x)
        if (from_output and not np.allclose(got, expected, rtol=0, atol=1e-6) and np.shape(y) == shape
                and np.all(np.isfinite(y))  # right for the wrong y forward kept: wait for forward's values
                and np.allclose(got, from_output(np.asarray(y, dtype=np.float64), dout), rtol=1e-5, atol=TOLERANCE)):
            raise WaitsFor(values_check, say(
                f"{what} is right for the values {cls}.forward gave, but those are wrong: fix {values_check} first.",
                f"对 {cls}.forward 给出的值来说，{what} 是对的，但那些值本身不对：先修好 {cls}.forward 的值。"))
        known = list(mistakes(x, reference(x), dout)) if mistakes else []
        known += [(dout, say(f"{cls}.backward returned grad_output unchanged: it must be multiplied by dy/dx.",
                             f"{cls}.backward 把 grad_output 原样返回了：还要乘上 dy/dx。"), ""),
                  (expected / dout, say(f"{cls}.backward returned dy/dx alone, without grad_output: by the chain "
                                        f"rule, dx = grad_output * dy/dx.",
                                        f"{cls}.backward 只返回了 dy/dx，忘了乘 grad_output：按链式法则，"
                                        f"dx = grad_output * dy/dx。"), "")]
        require_close(got, expected, what, sizes, known)

    return [
        Check(task, f"{cls}.forward shape and dtype", "forward", forward_shape, weight=0, sizes=sizes),
        Check(task, values_check, "forward", forward_values, sizes=sizes),
        Check(task, f"{cls}.backward shape and dtype", "backward", backward_shape, weight=0, sizes=sizes),
        Check(task, f"{cls}.backward dx", "backward", backward_dx, sizes=sizes),
    ]


def elementwise_inputs(low=-2.0, high=2.0, shape=(N, D)):
    """For state_checks of an element-wise layer: ((x,), grad_output), float64."""
    def inputs():
        rng = inputs_rng()
        return (random_inputs(rng, shape, low, high),), random_inputs(rng, shape)
    return inputs


def state_checks(task, make_layer, make_inputs, input_names=("x",), parameters=(), kept_by=None, sizes=SIZES, after=()):
    """The checks of state across calls (their names say what). make_layer(module): the student's layer with our
    parameters; make_inputs(): (forward's arguments, backward's argument or None), float64; parameters: 'W', 'b'...
    kept_by: {input name: (English, Chinese)} of inputs the caller keeps: a write into those fails, into others is a
    note. after: the checks of the gradients' values, waited for (zeros pass "twice the same" trivially)."""
    cls = task.cls
    checks = []
    if parameters:  # first: a backward that changes W changes its next result too, for that reason alone
        listed = " and ".join(f"{name}.data" for name in parameters)
        checks.append(Check(task, f"{cls}.backward leaves {listed} unchanged", "backward",
                            lambda module: parameters_kept(cls, make_layer(module), make_inputs, parameters),
                            sizes=sizes, after=tuple(after)))
    checks.append(Check(task, f"{cls}.backward twice gives the same result", "backward",
                        lambda module: twice(cls, make_layer(module), make_inputs, parameters), sizes=sizes,
                        after=(*after, *checks)))
    # An exception here is forward's or backward's own failure, explained by their checks: it blocks this one.
    checks.append(Check(task, f"{cls} leaves its inputs unchanged", "forward",
                        lambda module: inputs_kept(cls, make_layer(module), make_inputs, input_names, kept_by or {}),
                        weight=0, methods=("forward", "backward"), sizes=sizes, blames_exceptions=False))
    return checks


def forward_backward(layer, make_inputs):  # on fresh copies of the inputs
    args, dout = make_inputs()
    layer.forward(*(a.copy() for a in args))
    return layer.backward(dout.copy()) if dout is not None else layer.backward()


def twice(cls, layer, make_inputs, parameters):
    def one_pass():  # {what: a float64 copy} of each gradient
        grads = {gradient_of(cls): forward_backward(layer, make_inputs)}
        grads.update({f"{name}.grad": getattr(layer, name).grad for name in parameters})
        return {what: np.array(grad, dtype=np.float64) for what, grad in grads.items() if isinstance(grad, np.ndarray)}

    first, second = one_pass(), one_pass()
    for what, value in second.items():
        before = first.get(what)
        if before is None or value.shape != before.shape or np.allclose(value, before, rtol=1e-6, atol=1e-9):
            continue
        shown = "\n" + show(before, label("first")) + "\n" + show(value, label("second"))
        detail, hint = (
            say(f"{what} changed between two forward-and-backward passes on the same inputs: something kept from "
                f"one call changes the next.",
                f"用同样的输入做两次 forward 和 backward，{what} 却不一样：上一次调用留下的东西影响了下一次。"),
            say("backward should depend only on grad_output and on what forward kept from its input.",
                "backward 的结果应该只取决于 grad_output 和 forward 从输入存下来的东西。"))
        if np.any(before) and np.allclose(value, 2 * before, rtol=1e-6, atol=1e-9):
            detail, hint = (
                say(f"{what} doubled on the second forward and backward with the same inputs: backward adds to it "
                    f"(+=) where it should assign it (=).",
                    f"用同样的输入第二次做 forward 和 backward 后，{what} 变成了两倍：backward 把梯度累加（+=）了，"
                    f"应该赋值（=）。"),
                say("Each backward replaces the gradients: there is no zero_grad() here, the optimizer uses each "
                    "gradient once. Write self.W.grad = ..., not +=.",
                    "每次 backward 都直接覆盖梯度：这里没有 zero_grad()，优化器每个梯度只用一次。写 "
                    "self.W.grad = ...，不要写 +=。"))
        raise CheckFailed(detail + shown, hint, got=value, expected=before,
                          tolerance=1e-6 * max(1.0, float(np.max(np.abs(before)))))


def parameters_kept(cls, layer, make_inputs, parameters):
    before = {name: np.array(getattr(layer, name).data, dtype=np.float64) for name in parameters}
    forward_backward(layer, make_inputs)
    for name in parameters:
        after = np.array(getattr(layer, name).data, dtype=np.float64)
        if np.allclose(after, before[name], rtol=0, atol=1e-12):
            continue
        grad = np.asarray(getattr(layer, name).grad, dtype=np.float64)
        c = scale_factor(before[name] - after, grad) if np.shape(grad) == after.shape else None
        step_text = (say(f" It took a gradient step: {name}.data -= {c:.3g} * {name}.grad.",
                         f"它做了一步梯度下降：{name}.data -= {c:.3g} * {name}.grad。") if c else "")
        raise CheckFailed(
            say(f"{cls}.backward changed {name}.data.{step_text}", f"{cls}.backward 改动了 {name}.data。{step_text}")
            + "\n" + show(before[name], label("before")) + "\n" + show(after, label("after")),
            say(f"Updating the parameters is the optimizer's job, not backward's: backward only assigns "
                f"{', '.join(p + '.grad' for p in parameters)}. Otherwise each step updates them twice, and the "
                f"gradient returned is computed with weights that changed on the way.",
                f"更新参数是优化器的事，不是 backward 的：backward 只负责给 "
                f"{'、'.join(p + '.grad' for p in parameters)} 赋值。否则每一步参数会被更新两次，返回的梯度也是用中途改"
                f"过的权重算的。"),
            got=after, expected=before[name], tolerance=1e-12)


def inputs_kept(cls, layer, make_inputs, input_names, kept_by):
    args, dout = make_inputs()
    arrays = [*zip(input_names, args), *([("grad_output", dout)] if dout is not None else [])]
    saved = [a.copy() for _, a in arrays]
    layer.forward(*args)  # the arrays themselves: in this process, a write into them shows in ours
    if dout is not None:
        layer.backward(dout)
    written = [(name, a, s) for (name, a), s in zip(arrays, saved) if not np.array_equal(a, s)]
    for name, after, before in written:
        if name in kept_by and np.max(np.abs(after - before)) > ROUNDING * max(1.0, float(np.max(np.abs(before)))):
            raise CheckFailed(
                say(f"{cls}.forward wrote into its input {name} (an in-place operation: {name} -= ..., "
                    f"{name}[...] = ..., or out={name}): {kept_by[name][0]}",
                    f"{cls}.forward 改写了它的输入 {name}（原地运算：{name} -= ...、{name}[...] = ... 或 out={name}）："
                    f"{kept_by[name][1]}") + "\n" + show(before, label("before")) + "\n" + show(after, label("after")),
                say(f"Compute into a new array ({name} = {name} - m rather than {name} -= m): the caller's array "
                    f"is not yours to change.",
                    f"把结果写到新数组里（写 {name} = {name} - m，不要写 {name} -= m）：调用者的数组不该由你来改。"))
    if written:
        names = ", ".join(name for name, _, _ in written)
        method = "backward" if names == "grad_output" else "forward"
        NOTES.append(say(f"{cls}.{method} wrote into its input {names} (an in-place operation such as -=, *=, "
                         f"[...] = or out=). Harmless in this network, where nothing else uses that array afterwards; "
                         f"but it is the caller's array: a new array is safer.",
                         f"{cls}.{method} 改写了它的输入 {names}（-=、*=、[...] = 或 out= 这样的原地运算）。在这个网络"
                         f"里没有别的地方再用这个数组，所以没有影响；但它是调用者的数组，写到新数组里更安全。"))
