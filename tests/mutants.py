"""The common mistakes, each as a copy of solution/model.py with one edit, and the class the checks must blame; and
correct files written differently from the solution, which must pass every check.

A mutant is (name, class to blame, edits): each edit (old, new) replaces text that occurs exactly once in the
solution, so that a mutant can never silently stop applying when the solution changes. WORDS[name] must appear in
the report's explanation of that class (in English; WORDS_ZH[name] in Chinese), so that the mistake is named.
NOTED: (name, class, edits, words) of mistakes harmless in this network: every check passes, with a note naming it.
CORRECT: (name, edits) of right answers written another way (np.dot, loops, float64 inside...).
"""

LINEAR_STORE = "        self.x = x\n"
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

_NAMED = [  # (name, class, edits, words)
    ("forward forgets the bias", "Linear", [(LINEAR_FORWARD, "return x @ self.W.data")], "forgot the bias"),
    ("forward turns float32 into float64", "Linear",
     [(LINEAR_FORWARD, "return (x @ self.W.data + self.b.data).astype(np.float64)")], "dtype float32"),
    ("forward with x @ W.T", "Linear", [(LINEAR_FORWARD, "return x @ self.W.data.T + self.b.data")],
     "x (N, D) = (3, 4)"),
    ("forward writes into its input (centers x in place)", "Linear",
     [(LINEAR_STORE, "        x -= x.mean(axis=0, keepdims=True)\n" + LINEAR_STORE)], "wrote into its input x"),
    ("bias gradient forgotten", "Linear", [(f"        {LINEAR_DB}\n", "")], "Every value of it is 0"),
    ("bias gradient zeroed", "Linear", [(LINEAR_DB, "self.b.grad = np.zeros_like(self.b.data)")],
     "Every value of it is 0"),
    ("bias gradient summed with no axis", "Linear", [(LINEAR_DB, "self.b.grad = np.sum(grad_output)")],
     "got one number", "实际是一个数"),
    ("bias gradient averaged", "Linear", [(LINEAR_DB, "self.b.grad = grad_output.mean(axis=0, keepdims=True)")],
     "an extra division by N"),
    ("bias gradient without keepdims", "Linear", [(LINEAR_DB, "self.b.grad = grad_output.sum(axis=0)")],
     "keepdims=True) keeps it"),
    ("bias gradient summed over the wrong axis", "Linear",
     [(LINEAR_DB, "self.b.grad = grad_output.sum(axis=1, keepdims=True)")], "A sum over the other axis"),
    ("dW scaled by 1/N", "Linear", [(LINEAR_DW, "self.W.grad = self.x.T @ grad_output / len(self.x)")],
     "an extra division by N"),
    ("dW transposed", "Linear", [(LINEAR_DW, "self.W.grad = grad_output.T @ self.x")], "transposed"),
    ("weight gradient accumulated with +=", "Linear", [(LINEAR_DW, "self.W.grad += self.x.T @ grad_output")],
     "backward adds to it (+=)"),
    ("bias gradient accumulated with +=", "Linear",
     [(LINEAR_DB, "self.b.grad += grad_output.sum(axis=0, keepdims=True)")], "backward adds to it (+=)"),
    ("backward updates W.data with a small step", "Linear",
     [(LINEAR_DW, f"{LINEAR_DW}\n        self.W.data -= 0.001 * self.W.grad")], "It took a gradient step"),
    ("backward updates W.data with a large step", "Linear",
     [(LINEAR_DW, f"{LINEAR_DW}\n        self.W.data = self.W.data - 0.5 * self.W.grad")],
     "It took a gradient step"),
    ("backward uses a local variable of forward", "Linear", [(LINEAR_DW, "self.W.grad = x.T @ grad_output")],
     "a local variable of forward"),
    ("backward reads what forward did not keep", "Linear", [(LINEAR_STORE, "        self.inputs = x\n")],
     "which forward did not set"),
    ("input gradient with W instead of W.T", "Linear", [(LINEAR_DX, "return grad_output @ self.W.data")],
     "matrix product"),
    ("input gradient with W reshaped instead of transposed", "Linear",
     [(LINEAR_DX, "return grad_output @ self.W.data.reshape(self.W.data.shape[::-1])")], "dx"),
    ("input gradient missing", "Linear", [(LINEAR_DX, "return grad_output")], "should have shape"),
    ("sigmoid backward from x instead of y", "Sigmoid",
     [(SIGMOID_FORWARD, f"self.x = x\n        {SIGMOID_FORWARD}"),
      (SIGMOID_BACKWARD, "return grad_output * self.x * (1.0 - self.x)")], "used x where the formula has y"),
    ("sigmoid backward forgets grad_output", "Sigmoid", [(SIGMOID_BACKWARD, "return self.y * (1.0 - self.y)")],
     "without grad_output"),
    ("sigmoid as exp(x) / (1 + exp(x))", "Sigmoid", [(SIGMOID_FORWARD, "self.y = np.exp(x) / (1.0 + np.exp(x))")],
     "NaN"),
    ("softmax without the max shift", "Softmax", [(SOFTMAX_EXP, "exps = np.exp(x)")], "NaN"),
    ("softmax shifted by the max of the whole batch", "Softmax", [(SOFTMAX_EXP, "exps = np.exp(x - x.max())")],
     "subtracts the batch's maximum", "减去的是整批的最大值"),
    ("softmax divides by the sum of the whole batch", "Softmax", [(SOFTMAX_SUM, "self.y = exps / np.sum(exps)")],
     "divided by the sum of the whole batch", "除以的是整批的和"),
    ("softmax backward sums over the whole array", "Softmax",
     [(SOFTMAX_BACKWARD, "return self.y * (grad_output - np.sum(grad_output * self.y))")],
     "over the whole batch (np.sum with no axis)", "对整批的 grad_output * y 求了和"),
    ("softmax backward sums grad_output without y", "Softmax",
     [(SOFTMAX_BACKWARD, "return self.y * (grad_output - grad_output.sum(axis=-1, keepdims=True))")],
     "the row sum of grad_output alone", "减去的是 grad_output 本身的行和"),
    ("softmax backward sums over the batch axis", "Softmax",
     [(SOFTMAX_BACKWARD, "return self.y * (grad_output - (grad_output * self.y).sum(axis=0, keepdims=True))")],
     "over the batch axis (axis=0)", "沿批量的轴（axis=0）"),
    ("softmax backward with y outside the bracket", "Softmax",
     [(SOFTMAX_BACKWARD, "return self.y * grad_output - (grad_output * self.y).sum(axis=-1, keepdims=True)")],
     "y multiplies the whole bracket", "y 要乘整个括号"),
    ("sigmoid of -x (a lost minus)", "Sigmoid", [(SIGMOID_FORWARD, "self.y = 0.5 * (1.0 + np.tanh(-0.5 * x))")],
     "a minus sign was lost", "丢了一个负号"),
    ("sigmoid with a floor division", "Sigmoid", [(SIGMOID_FORWARD, "self.y = 1 // (1 + np.exp(-x))")],
     "a floor division //", "整除 //"),
    ("sigmoid as 1 / 1 + exp(-x)", "Sigmoid", [(SIGMOID_FORWARD, "self.y = 1 / 1 + np.exp(-x)")],
     "Python divides before it adds", "Python 先算除法再算加法"),
    ("sigmoid in a Python loop with math.exp", "Sigmoid",
     [("import numpy as np\n", "import math\n\nimport numpy as np\n"),
      (SIGMOID_FORWARD, "self.y = np.zeros(x.shape)\n"
                        "        for i in range(x.shape[0]):\n"
                        "            for j in range(x.shape[1]):\n"
                        "                self.y[i, j] = 1 / (1 + math.exp(-x[i, j]))")],
     "np.exp on the whole array", "对整个数组用 np.exp"),
    ("softmax over the wrong axis", "Softmax",
     [(SOFTMAX_EXP, "exps = np.exp(x - x.max(axis=0, keepdims=True))"),
      (SOFTMAX_SUM, "self.y = exps / exps.sum(axis=0, keepdims=True)")], "wrong axis"),
    ("softmax sum over the wrong axis", "Softmax", [(SOFTMAX_SUM, "self.y = exps / exps.sum(axis=0, keepdims=True)")],
     "wrong axis"),
    ("softmax sum without keepdims", "Softmax", [(SOFTMAX_SUM, "self.y = exps / exps.sum(axis=-1)")],
     "without keepdims=True"),
    ("softmax max without keepdims", "Softmax", [(SOFTMAX_EXP, "exps = np.exp(x - x.max(axis=-1))")],
     "without keepdims=True"),
    ("softmax backward with only the diagonal", "Softmax",
     [(SOFTMAX_BACKWARD, "return grad_output * self.y * (1.0 - self.y)")], "only the diagonal"),
    ("softmax backward passes the gradient through", "Softmax", [(SOFTMAX_BACKWARD, "return grad_output")],
     "unchanged"),
    ("loss summed instead of averaged", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(-np.sum(targets * np.log(self.probs)))")], "a missing division by N"),
    ("loss averaged over N·M entries", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(-np.mean(targets * np.log(self.probs)))")], "averaged over all N·M"),
    ("loss of each example, not their mean", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return -np.sum(targets * np.log(self.probs), axis=1)")], "should be one number"),
    ("loss divided by the number of classes", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(-np.sum(targets * np.log(self.probs)) / probs.shape[1])")],
     "divided by M = 5 (the number of classes) instead of N = 3 (the batch size)",
     "除以的是 M = 5（类别数），应该除以 N = 3（批量大小）"),
    ("loss backward divided by the number of classes", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return -self.targets / self.probs / self.probs.shape[1]")],
     "divided by M = 5 (the number of classes) instead of N = 3 (the batch size)",
     "除以的是 M = 5（类别数），应该除以 N = 3（批量大小）"),
    ("loss backward with -targets / N * probs", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return -self.targets / len(self.probs) * self.probs")], "(-targets / N) * probs",
     "读作 (-targets / N) * probs"),
    ("loss backward with -targets / probs * N", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return -self.targets / self.probs * len(self.probs)")], "(-targets / probs) * N",
     "读作 (-targets / probs) * N"),
    ("loss returned as an array of shape (1,)", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return (-np.sum(targets * np.log(self.probs)) / len(probs)).reshape(1)")],
     "got an array of shape (1,)", "一个形状为 (1,) 的数组"),
    ("loss indexes probs with integer labels", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(-np.log(self.probs[np.arange(len(probs)), targets]).mean())")], "one-hot"),
    ("loss without epsilon", "CrossEntropyLoss", [(LOSS_CLIP, "self.probs = probs")], "self.eps"),
    ("loss with the wrong sign", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return float(np.sum(targets * np.log(self.probs)) / len(probs))")], "the sign is wrong"),
    ("loss backward with the wrong sign", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return self.targets / self.probs / len(self.probs)")], "the sign is wrong"),
    ("loss backward without 1/N", "CrossEntropyLoss", [(LOSS_BACKWARD, "return -self.targets / self.probs")],
     "a missing division by N"),
    ("loss backward averaged over N·M entries", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return -self.targets / self.probs / self.probs.size")], "averaged over all N·M"),
    ("loss backward with the fused (p - y)/N", "CrossEntropyLoss",
     [(LOSS_BACKWARD, "return (self.probs - self.targets) / len(self.probs)")], "(probs - targets) / N"),
]

MUTANTS = [(name, cls, edits) for name, cls, edits, *_ in _NAMED]
WORDS = {name: words for name, _, _, words, *_ in _NAMED}
WORDS_ZH = {name: zh[0] for name, _, _, _, *zh in _NAMED if zh}  # the mistakes named in Chinese too (issue 20)

NOTED = [
    ("softmax subtracts the max in place", "Softmax",
     [(SOFTMAX_EXP, "x -= x.max(axis=-1, keepdims=True)\n        exps = np.exp(x)")], "wrote into its input x"),
    ("sigmoid backward multiplies grad_output in place", "Sigmoid",
     [(SIGMOID_BACKWARD, "grad_output *= self.y * (1.0 - self.y)\n        return grad_output")],
     "wrote into its input grad_output"),
    ("loss returned as a NumPy scalar", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return -np.sum(targets * np.log(self.probs)) / len(probs)")], "not a Python float"),
    ("loss returned as a 0-d array", "CrossEntropyLoss",
     [(LOSS_FORWARD, "return np.asarray(-np.sum(targets * np.log(self.probs)) / len(probs))")],
     "not a Python float"),
    ("loss clips probs in place", "CrossEntropyLoss",
     [(LOSS_CLIP, "self.probs = np.maximum(probs, self.eps, out=probs)")], "wrote into its input probs"),
]

CORRECT = [
    ("np.dot instead of @", [(LINEAR_FORWARD, "return np.dot(x, self.W.data) + self.b.data"),
                             (LINEAR_DW, "self.W.grad = np.dot(self.x.T, grad_output)"),
                             (LINEAR_DX, "return np.dot(grad_output, self.W.data.T)")]),
    ("loops over the examples", [
        (LINEAR_FORWARD, "y = np.empty((len(x), self.W.data.shape[1]), dtype=np.result_type(x, self.W.data))\n"
                         "        for i in range(len(x)):\n"
                         "            y[i] = x[i] @ self.W.data + self.b.data[0]\n"
                         "        return y"),
        (LINEAR_DB, "self.b.grad = np.zeros_like(self.b.data)\n"
                    "        for row in grad_output:\n"
                    "            self.b.grad = self.b.grad + row"),
        (SOFTMAX_BACKWARD, "grad = np.empty_like(grad_output)\n"
                           "        for i, (y, g) in enumerate(zip(self.y, grad_output)):\n"
                           "            grad[i] = (np.diag(y) - np.outer(y, y)) @ g\n"
                           "        return grad")]),
    ("float64 inside, cast back", [
        (SIGMOID_FORWARD, "self.y = (0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))).astype(x.dtype)"),
        (SOFTMAX_EXP, "x64 = x.astype(np.float64)\n        exps = np.exp(x64 - x64.max(axis=-1, keepdims=True))"),
        (SOFTMAX_SUM, "self.y = (exps / exps.sum(axis=-1, keepdims=True)).astype(x.dtype)"),
        (LOSS_BACKWARD, "return (-self.targets.astype(np.float64) / self.probs / len(self.probs))"
                        ".astype(self.probs.dtype)")]),
    ("a sigmoid written with exp(-|x|)", [
        (SIGMOID_FORWARD, "e = np.exp(-np.abs(x))\n        self.y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))")]),
    ("sigmoid keeps its derivative", [
        (SIGMOID_FORWARD, f"{SIGMOID_FORWARD}\n        self.slope = self.y * (1.0 - self.y)"),
        (SIGMOID_BACKWARD, "return grad_output * self.slope")]),
    ("loss from the labels", [
        (LOSS_FORWARD, "labels = targets.argmax(axis=1)\n"
                       "        return float(-np.log(self.probs[np.arange(len(probs)), labels]).mean())")]),
    ("einsum everywhere", [
        (LINEAR_FORWARD, "return np.einsum('nd,dm->nm', x, self.W.data) + self.b.data"),
        (LINEAR_DW, "self.W.grad = np.einsum('nd,nm->dm', self.x, grad_output)"),
        (LINEAR_DX, "return np.einsum('nm,dm->nd', grad_output, self.W.data)")]),
]


def mutate(source, edits):
    """source with every (old, new) edit applied; each old must occur exactly once."""
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{old!r} occurs {count} times in the solution, not once: update tests/mutants.py")
        source = source.replace(old, new)
    return source
