"""Checks any chapter can reuse for a common kind of layer: a chapter's checks.py adds them for its own classes.

    elementwise_checks(TASK["Tanh"], np.tanh)   # the four checks of a layer y = f(x), element by element
"""

import numpy as np

from .gradcheck import inputs_rng, numeric_gradient, random_inputs, require_array, require_close
from .report import Check

N, D = 3, 4  # batch size and features of the inputs: different, so that a transposed result shows


def elementwise_checks(task, reference, low=-2.0, high=2.0):
    """The four checks of a layer acting element by element (ReLU, Sigmoid, Tanh...): forward and backward, shapes
    and values. reference(x): the layer's function in float64; inputs are drawn from [low, high)."""
    cls = task.cls

    def forward_shape(module):
        x = random_inputs(inputs_rng(), (N, D), low, high).astype(np.float32)
        require_array(getattr(module, cls)().forward(x), (N, D), f"{cls}.forward(x)", np.float32)

    def forward_values(module):
        x = random_inputs(inputs_rng(), (N, D), low, high)
        got = require_array(getattr(module, cls)().forward(x.copy()), (N, D), f"{cls}.forward(x)")
        require_close(got, reference(x), f"y = {cls}.forward(x)")

    def backward_shape(module):
        layer, x = getattr(module, cls)(), random_inputs(inputs_rng(), (N, D), low, high)
        layer.forward(x.astype(np.float32))
        got = layer.backward(np.ones((N, D), dtype=np.float32))
        require_array(got, (N, D), f"the gradient returned by {cls}.backward", np.float32)

    def backward_dx(module):
        layer, rng = getattr(module, cls)(), inputs_rng()
        x, dout = random_inputs(rng, (N, D), low, high), random_inputs(rng, (N, D))
        layer.forward(x.copy())
        got = require_array(layer.backward(dout.copy()), (N, D), f"the gradient returned by {cls}.backward")
        require_close(got, numeric_gradient(lambda: np.sum(reference(x) * dout), x),
                      f"dx, the gradient returned by {cls}.backward")

    return [
        Check(task, f"{cls}.forward shape and dtype", "forward", forward_shape, weight=0),
        Check(task, f"{cls}.forward values", "forward", forward_values),
        Check(task, f"{cls}.backward shape and dtype", "backward", backward_shape, weight=0),
        Check(task, f"{cls}.backward dx", "backward", backward_dx),
    ]
