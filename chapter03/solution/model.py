"""The layers of a multilayer perceptron in NumPy: forward and backward, side by side.

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
        # BEGIN SOLUTION
        self.x = x
        return x @ self.W.data + self.b.data
        # END SOLUTION

    def backward(self, grad_output):
        """grad_output (N, M) -> grad_input (N, D); sets W.grad (D, M) and b.grad (1, M)."""
        # BEGIN SOLUTION
        self.W.grad = self.x.T @ grad_output
        self.b.grad = grad_output.sum(axis=0, keepdims=True)
        return grad_output @ self.W.data.T
        # END SOLUTION

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
        # BEGIN SOLUTION
        # The same function written with tanh, which never overflows: exp(-x) does for x < -88 in float32.
        self.y = 0.5 * (1.0 + np.tanh(0.5 * x))
        return self.y
        # END SOLUTION

    def backward(self, grad_output):
        """grad_output (N, D) -> grad_input (N, D)."""
        # BEGIN SOLUTION
        return grad_output * self.y * (1.0 - self.y)
        # END SOLUTION


class Softmax(Module):
    """Softmax over the last axis: y[i, j] = exp(x[i, j]) / sum_k exp(x[i, k])."""

    def forward(self, x):
        """x (N, M) -> y (N, M), each row positive and summing to 1."""
        # BEGIN SOLUTION
        # Subtracting the row maximum changes nothing mathematically and keeps exp() from overflowing.
        exps = np.exp(x - x.max(axis=-1, keepdims=True))
        self.y = exps / exps.sum(axis=-1, keepdims=True)
        return self.y
        # END SOLUTION

    def backward(self, grad_output):
        """grad_output (N, M) -> grad_input (N, M): the Jacobian-vector product of each row."""
        # BEGIN SOLUTION
        return self.y * (grad_output - (grad_output * self.y).sum(axis=-1, keepdims=True))
        # END SOLUTION


class CrossEntropyLoss(Module):
    """Mean cross-entropy of a batch: L = -sum(targets * log(probs)) / N."""

    eps = 1e-12  # log(0) is -inf: probabilities are clipped to at least eps

    def forward(self, probs, targets):
        """probs (N, M) from Softmax, targets (N, M) one-hot -> L, a Python float."""
        # BEGIN SOLUTION
        self.probs = np.maximum(probs, self.eps)
        self.targets = targets
        return float(-np.sum(targets * np.log(self.probs)) / len(probs))
        # END SOLUTION

    def backward(self):
        """-> grad_probs (N, M), the gradient of L with respect to probs."""
        # BEGIN SOLUTION
        return -self.targets / self.probs / len(self.probs)
        # END SOLUTION


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
