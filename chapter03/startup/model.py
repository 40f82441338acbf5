"""The layers of a multilayer perceptron in NumPy: forward and backward, side by side.

The assignment: in chapter03/startup/model.py, replace the eight stubs that follow a "# Hint:" (Tasks 1 to 4: Linear,
Sigmoid, Softmax, CrossEntropyLoss) with code, and change nothing else; ReLU is the worked example, already complete.
Check your work with `python chapter03/startup/main.py --checks_only`. chapter03/solution/model.py is the reference.

Shapes: N is the batch size, D the number of input features, M the number of output features.
Every backward(grad_output) receives dL/d(output) and returns dL/d(input), where L is the loss.
Layers only compute gradients; updating the parameters is the optimizer's job (chapter03/common/train.py).
The math is in chapter03/README.md (Chinese) and chapter03/README.en.md (English), section by section.
"""

import numpy as np


class Parameter:
    """A trainable array `data` and `grad`, the gradient of the loss with respect to it (same shape)."""

    def __init__(self, data):
        self.data = data
        self.grad = np.zeros_like(data)


class Module:
    """Base class of every layer: `layer(x)` calls `layer.forward(x)`."""

    def __call__(self, *args):
        return self.forward(*args)

    def parameters(self):
        """The Parameters of this module (none unless the layer has some)."""
        return []


class Linear(Module):
    """Fully connected layer: y = x @ W + b, with W (D, M) and b (1, M)."""

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        rng = np.random.default_rng() if rng is None else rng
        # Glorot/Xavier uniform: keeps the variance of activations and gradients alike across layers.
        limit = np.sqrt(6.0 / (in_features + out_features))
        self.W = Parameter(rng.uniform(-limit, limit, (in_features, out_features)).astype(dtype))
        self.b = Parameter(np.zeros((1, out_features), dtype=dtype))

    def forward(self, x):
        """x (N, D) -> y (N, M)."""
        # Hint: x (N, D), self.W.data (D, M) and self.b.data (1, M) give y (N, M); NumPy broadcasts the bias over
        #   the N rows. backward needs x to compute W.grad: keep it (self.x = x).
        raise NotImplementedError("Task 1: Linear.forward, see chapter03/README.md section 1")

    def backward(self, grad_output):
        """grad_output (N, M) -> grad_input (N, D); sets W.grad (D, M) and b.grad (1, M)."""
        # Hint: from grad_output (N, M) and the x kept by forward, assign self.W.grad (D, M) and self.b.grad (1, M)
        #   (with =, not +=: each backward replaces them), then return grad_input (N, D). Each is a sum over the
        #   examples of the batch; the shapes tell you which arrays to multiply. The loss already averages over the
        #   batch: do not divide by N here.
        raise NotImplementedError("Task 1: Linear.backward, see chapter03/README.md section 1")

    def parameters(self):
        return [self.W, self.b]


class ReLU(Module):
    """Worked example of the pattern, already complete: y = max(x, 0), element-wise."""

    def forward(self, x):
        """x (N, D) -> y (N, D)."""
        self.positive = x > 0  # backward needs to know where the input was positive
        return x * self.positive

    def backward(self, grad_output):
        """grad_output (N, D) -> grad_input (N, D): the gradient flows only where x > 0."""
        return grad_output * self.positive


class Sigmoid(Module):
    """Logistic function, element-wise: y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        """x (N, D) -> y (N, D), every value in (0, 1)."""
        # Hint: y (N, D), element-wise from x (N, D). np.exp(-x) overflows for x < -88 in float32 (a RuntimeWarning):
        #   chapter03/README.md section 2 gives a form that never overflows. Keep y (self.y = ...): backward needs
        #   only y.
        raise NotImplementedError("Task 2: Sigmoid.forward, see chapter03/README.md section 2")

    def backward(self, grad_output):
        """grad_output (N, D) -> grad_input (N, D)."""
        # Hint: grad_input (N, D) is grad_output times dy/dx, element-wise; write dy/dx with the y kept by forward.
        raise NotImplementedError("Task 2: Sigmoid.backward, see chapter03/README.md section 2")


class Softmax(Module):
    """Softmax over the last axis: y[i, j] = exp(x[i, j]) / sum_k exp(x[i, k])."""

    def forward(self, x):
        """x (N, M) -> y (N, M), each row positive and summing to 1."""
        # Hint: y (N, M): exponentiate, then divide each row by its sum (axis=-1, keepdims=True). Subtract each row's
        #   maximum first, so exp() cannot overflow: y stays the same. Keep y (self.y = ...): backward needs it.
        raise NotImplementedError("Task 3: Softmax.forward, see chapter03/README.md section 3")

    def backward(self, grad_output):
        """grad_output (N, M) -> grad_input (N, M): the Jacobian-vector product of each row."""
        # Hint: grad_input (N, M) from grad_output (N, M) and the y kept by forward. Each output of a row depends on
        #   every input of that row: use the whole Jacobian of the row, not only its diagonal y * (1 - y).
        raise NotImplementedError("Task 3: Softmax.backward, see chapter03/README.md section 3")


class CrossEntropyLoss(Module):
    """Mean cross-entropy of a batch: L = -sum(targets * log(probs)) / N."""

    eps = 1e-12  # log(0) is -inf: probabilities are clipped to at least eps

    def forward(self, probs, targets):
        """probs (N, M) from Softmax, targets (N, M) one-hot -> L, a Python float."""
        # Hint: probs (N, M) and one-hot targets (N, M) give the mean over the N examples of
        #   -sum(targets * log(probs)). Clip probs to at least self.eps first, so log() never sees 0. Keep the
        #   clipped probs and the targets for backward, and return a Python float (float(...)).
        raise NotImplementedError("Task 4: CrossEntropyLoss.forward, see chapter03/README.md section 4")

    def backward(self):
        """-> grad_probs (N, M), the gradient of L with respect to probs."""
        # Hint: return dL/dprobs (N, M) from the clipped probs and the targets kept by forward; L is a mean, so
        #   N appears. This is the gradient with respect to probs, not the logits before Softmax.
        raise NotImplementedError("Task 4: CrossEntropyLoss.backward, see chapter03/README.md section 4")


class MLP(Module):
    """input_dim -> (Linear, Sigmoid) for each size in hidden_dims -> Linear -> Softmax -> probs (N, output_dim)."""

    def __init__(self, input_dim, hidden_dims, output_dim, rng=None, dtype=np.float32):
        sizes = [input_dim, *hidden_dims, output_dim]
        self.layers = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
            self.layers += [Linear(n_in, n_out, rng, dtype), Sigmoid()]
        self.layers += [Linear(sizes[-2], sizes[-1], rng, dtype), Softmax()]

    def forward(self, x):
        """x (N, input_dim) -> probs (N, output_dim)."""
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        """grad_output (N, output_dim), dL/dprobs -> dL/dx (N, input_dim); fills every Parameter's grad."""
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
