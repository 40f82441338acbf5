"""The common mistakes, each as a copy of solution/model.py with one edit, and the class the checks must blame.

A mutant is (name, class to blame, edits); each edit (old, new) replaces text that occurs exactly once in the
solution, so that a mutant can never silently stop applying when the solution changes.
"""

LINEAR_FORWARD = "return x @ self.W.data + self.b.data"
LINEAR_DW = "self.W.grad = self.x.T @ grad_output"
LINEAR_DB = "self.b.grad = grad_output.sum(axis=0, keepdims=True)"
LINEAR_DX = "return grad_output @ self.W.data.T"
SIGMOID_FORWARD = "self.y = 0.5 * (1.0 + np.tanh(0.5 * x))"
SIGMOID_BACKWARD = "return grad_output * self.y * (1.0 - self.y)"
SOFTMAX_EXP = "exps = np.exp(x - x.max(axis=-1, keepdims=True))"
SOFTMAX_SUM = "self.y = exps / exps.sum(axis=-1, keepdims=True)"
SOFTMAX_BACKWARD = "return self.y * (grad_output - (grad_output * self.y).sum(axis=-1, keepdims=True))"
LOSS_CLIP = "self.probs = np.maximum(probs, self.eps)"
LOSS_FORWARD = "return float(-np.sum(targets * np.log(self.probs)) / len(probs))"
LOSS_BACKWARD = "return -self.targets / self.probs / len(self.probs)"

MUTANTS = [
    ("forward forgets the bias", "Linear", [(LINEAR_FORWARD, "return x @ self.W.data")]),
    ("forward turns float32 into float64", "Linear",
     [(LINEAR_FORWARD, "return (x @ self.W.data + self.b.data).astype(np.float64)")]),
    ("bias gradient forgotten", "Linear", [(f"        {LINEAR_DB}\n", "")]),
    ("bias gradient zeroed", "Linear", [(LINEAR_DB, "self.b.grad = np.zeros_like(self.b.data)")]),
    ("bias gradient averaged", "Linear", [(LINEAR_DB, "self.b.grad = grad_output.mean(axis=0, keepdims=True)")]),
    ("bias gradient without keepdims", "Linear", [(LINEAR_DB, "self.b.grad = grad_output.sum(axis=0)")]),
    ("dW scaled by 1/N", "Linear", [(LINEAR_DW, "self.W.grad = self.x.T @ grad_output / len(self.x)")]),
    ("input gradient with W instead of W.T", "Linear", [(LINEAR_DX, "return grad_output @ self.W.data")]),
    ("input gradient with W reshaped instead of transposed", "Linear",
     [(LINEAR_DX, "return grad_output @ self.W.data.reshape(self.W.data.shape[::-1])")]),
    ("input gradient missing", "Linear", [(LINEAR_DX, "return grad_output")]),
    ("sigmoid backward from x instead of y", "Sigmoid",
     [(SIGMOID_FORWARD, f"self.x = x\n        {SIGMOID_FORWARD}"),
      (SIGMOID_BACKWARD, "return grad_output * self.x * (1.0 - self.x)")]),
    ("sigmoid as exp(x) / (1 + exp(x))", "Sigmoid", [(SIGMOID_FORWARD, "self.y = np.exp(x) / (1.0 + np.exp(x))")]),
    ("softmax without the max shift", "Softmax", [(SOFTMAX_EXP, "exps = np.exp(x)")]),
    ("softmax shifted by the max of the whole batch", "Softmax", [(SOFTMAX_EXP, "exps = np.exp(x - x.max())")]),
    ("softmax over the wrong axis", "Softmax",
     [(SOFTMAX_EXP, "exps = np.exp(x - x.max(axis=0, keepdims=True))"),
      (SOFTMAX_SUM, "self.y = exps / exps.sum(axis=0, keepdims=True)")]),
    ("softmax sum over the wrong axis", "Softmax", [(SOFTMAX_SUM, "self.y = exps / exps.sum(axis=0, keepdims=True)")]),
    ("softmax backward with only the diagonal", "Softmax",
     [(SOFTMAX_BACKWARD, "return grad_output * self.y * (1.0 - self.y)")]),
    ("softmax backward passes the gradient through", "Softmax", [(SOFTMAX_BACKWARD, "return grad_output")]),
    ("loss summed instead of averaged", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(-np.sum(targets * np.log(self.probs)))")]),
    ("loss of each example, not their mean", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return -np.sum(targets * np.log(self.probs), axis=1)")]),
    ("loss without epsilon", "CrossEntropyLoss", [(LOSS_CLIP, "self.probs = probs")]),
    ("loss with the wrong sign", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(np.sum(targets * np.log(self.probs)) / len(probs))")]),
    ("loss backward with the wrong sign", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return self.targets / self.probs / len(self.probs)")]),
    ("loss backward without 1/N", "CrossEntropyLoss", [(LOSS_BACKWARD, "return -self.targets / self.probs")]),
    ("loss backward with the fused (p - y)/N", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return (self.probs - self.targets) / len(self.probs)")]),
]


def mutate(source, edits):
    """source with every (old, new) edit applied; each old must occur exactly once."""
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{old!r} occurs {count} times in the solution, not once: update tests/mutants.py")
        source = source.replace(old, new)
    return source
