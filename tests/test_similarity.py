"""coursekit/grading/similarity.py: copies found, honest work left alone.

Four honest, independent implementations of the four classes in different styles, each written into the handed-out
startup file as a student would, and disguised copies of each (and of the reference): renamed, re-commented,
reordered, reformatted, and all of these at once. Every copy's nearest file must be its source, with a score above
that of every pair of honest files.
"""

import ast
import re
import textwrap

import pytest
from submissions import SOLUTION, STARTUP, run_grade, write_submission

from conftest import solved_startup
from coursekit.grading.similarity import compare, fingerprints, side_by_side

METHODS = ["Linear.forward", "Linear.backward", "Sigmoid.forward", "Sigmoid.backward", "Softmax.forward",
           "Softmax.backward", "CrossEntropyLoss.forward", "CrossEntropyLoss.backward"]

HONEST = {
    "dot": """
        self.inp = x
        out = np.dot(x, self.W.data)
        return out + self.b.data
        ---
        self.W.grad = np.dot(self.inp.T, grad_output)
        self.b.grad = np.sum(grad_output, axis=0, keepdims=True)
        return np.dot(grad_output, self.W.data.T)
        ---
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out
        ---
        return grad_output * self.out * (1 - self.out)
        ---
        shifted = x - np.max(x, axis=-1, keepdims=True)
        e = np.exp(shifted)
        self.out = e / np.sum(e, axis=-1, keepdims=True)
        return self.out
        ---
        dot = np.sum(grad_output * self.out, axis=-1, keepdims=True)
        return self.out * (grad_output - dot)
        ---
        self.p = np.clip(probs, self.eps, 1.0)
        self.t = targets
        n = probs.shape[0]
        return float(-(targets * np.log(self.p)).sum() / n)
        ---
        return -self.t / (self.p * self.p.shape[0])
        """,
    "loops": """
        self.cache = x.copy()
        y = x @ self.W.data
        y = y + self.b.data
        return y
        ---
        x = self.cache
        self.W.grad = np.einsum("nd,nm->dm", x, grad_output)
        self.b.grad = grad_output.sum(0)[None, :]
        return np.einsum("nm,dm->nd", grad_output, self.W.data)
        ---
        positive = x >= 0
        z = np.exp(-np.abs(x))
        self.s = np.where(positive, 1 / (1 + z), z / (1 + z))
        return self.s
        ---
        ds = self.s - self.s ** 2
        return ds * grad_output
        ---
        m = x.max(axis=-1)[..., None]
        numerators = np.exp(x - m)
        denominators = numerators.sum(axis=-1)[..., None]
        self.s = numerators / denominators
        return self.s
        ---
        grad = np.empty_like(grad_output)
        for i in range(len(self.s)):
            s = self.s[i][:, None]
            jacobian = np.diagflat(s) - s @ s.T
            grad[i] = jacobian @ grad_output[i]
        return grad
        ---
        batch = len(targets)
        safe = probs.copy()
        safe[safe < self.eps] = self.eps
        self.cache = (safe, targets)
        total = 0.0
        for row in range(batch):
            total -= np.dot(targets[row], np.log(safe[row]))
        return float(total / batch)
        ---
        safe, targets = self.cache
        return -(targets / safe) / len(targets)
        """,
    "tanh": """
        self._x = x
        return np.matmul(x, self.W.data) + self.b.data
        ---
        gw = np.matmul(self._x.transpose(), grad_output)
        gb = grad_output.sum(axis=0).reshape(1, -1)
        self.W.grad, self.b.grad = gw, gb
        return np.matmul(grad_output, self.W.data.transpose())
        ---
        self._y = (np.tanh(x / 2) + 1) / 2
        return self._y
        ---
        y = self._y
        return grad_output * y * (1.0 - y)
        ---
        z = x - x.max(-1, keepdims=True)
        logsum = np.log(np.exp(z).sum(-1, keepdims=True))
        self._y = np.exp(z - logsum)
        return self._y
        ---
        y = self._y
        inner = (y * grad_output).sum(-1, keepdims=True)
        return y * grad_output - y * inner
        ---
        self._probs = np.maximum(probs, self.eps)
        self._targets = targets
        losses = -(targets * np.log(self._probs)).sum(axis=1)
        return float(losses.mean())
        ---
        n = self._targets.shape[0]
        return -self._targets / self._probs / n
        """,
    "verbose": """
        self.saved_input = x
        weights = self.W.data
        bias = self.b.data
        linear_output = x.dot(weights)
        linear_output += bias
        return linear_output
        ---
        saved = self.saved_input
        self.W.grad = saved.T.dot(grad_output)
        bias_gradient = np.zeros_like(self.b.data)
        bias_gradient[0] = grad_output.sum(axis=0)
        self.b.grad = bias_gradient
        input_gradient = grad_output.dot(self.W.data.T)
        return input_gradient
        ---
        clipped = np.clip(x, -500, 500)
        activation = 1 / (1 + np.exp(-clipped))
        self.activation = activation
        return activation
        ---
        derivative = self.activation * (1 - self.activation)
        return grad_output * derivative
        ---
        row_max = np.amax(x, axis=1, keepdims=True)
        exponentials = np.exp(x - row_max)
        row_sums = np.sum(exponentials, axis=1, keepdims=True)
        self.probabilities = exponentials / row_sums
        return self.probabilities
        ---
        p = self.probabilities
        weighted = np.einsum("ij,ij->i", grad_output, p)[:, np.newaxis]
        return p * (grad_output - weighted)
        ---
        count = probs.shape[0]
        self.clipped = np.clip(probs, self.eps, None)
        self.onehot = targets
        log_likelihood = np.log(self.clipped) * targets
        return float(-log_likelihood.sum() / count)
        ---
        count = self.onehot.shape[0]
        gradient = -self.onehot / self.clipped
        return gradient / count
        """,
}


def written(style):
    """The startup file with each stub replaced by the style's code, as a student hands it in."""
    text = STARTUP
    for method, code in zip(METHODS, textwrap.dedent(HONEST[style]).strip().split("---")):
        stub = re.compile(rf' *raise NotImplementedError\("Task \d: {re.escape(method)},[^\n]*\n')
        assert stub.search(text), f"no stub of {method}: update this test"
        text = stub.sub(textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8) + "\n", text, count=1)
    return text


def renamed(text):
    for old, new in (("grad_output", "upstream"), ("x", "inputs"), ("probs", "predicted"), ("targets", "labels"),
                     ("inp", "kept"), ("out", "result"), ("cache", "memo"), ("_y", "_act"), ("p", "q"),
                     ("activation", "act"), ("saved_input", "remembered"), ("y", "yy"), ("s", "sm")):
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def recommented(text):
    """Every comment and docstring gone or changed, comments added after code lines."""
    lines = []
    for line in text.split("\n"):
        if line.strip().startswith("#"):
            continue
        if line.strip().startswith(("return", "self.")):
            line += "  # my own idea"
        lines.append(line)
    return re.sub(r'"""(.|\n)*?"""', '"""Written by me."""', "\n".join(lines))


def reordered(text):
    """Each class's methods in reverse order, and Sigmoid after Softmax."""
    tree, lines = ast.parse(text), text.split("\n")
    blocks = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, ast.FunctionDef)]
            head = lines[node.lineno - 1:methods[0].lineno - 1] if methods else []
            body = ["\n".join(lines[m.lineno - 1:m.end_lineno]) for m in methods]
            blocks[node.name] = (node.lineno, node.end_lineno, "\n".join(head) + "\n" + "\n\n".join(body[::-1]))
    out, position = [], 0
    order = [name for name in blocks]
    order[order.index("Sigmoid")], order[order.index("Softmax")] = "Softmax", "Sigmoid"
    for original, name in zip(blocks, order):
        start, end, _ = blocks[original]
        out += lines[position:start - 1] + [blocks[name][2]]
        position = end
    return "\n".join(out + lines[position:])


def reformatted(text):
    """Two-space indentation, blank lines doubled, every return value in parentheses on a line of its own."""
    text = re.sub(r"(?m)^((?:    )+)", lambda m: "  " * (len(m.group(1)) // 4), text)
    text = re.sub(r"(?m)^( *)return (.+)$", r"\1return (\n\1    \2\n\1)", text)
    return text.replace("\n\n", "\n\n\n")


def all_at_once(text):
    return reformatted(reordered(recommented(renamed(text))))


DISGUISES = {"renamed": renamed, "recommented": recommented, "reordered": reordered, "reformatted": reformatted,
             "all at once": all_at_once}


@pytest.fixture(scope="module")
def honest():
    texts = {style: written(style) for style in HONEST}
    for text in texts.values():
        compile(text, "model.py", "exec")
    return texts


def honest_scores(honest):
    result = compare(honest, shared=STARTUP, threshold=0)
    return [score for score, *_ in result.pairs]


@pytest.mark.parametrize("disguise", DISGUISES)
def test_every_disguised_copy_is_nearest_its_source_above_every_honest_pair(honest, disguise):
    copies = {f"{disguise} {style}": DISGUISES[disguise](text) for style, text in honest.items()}
    for text in copies.values():
        compile(text, "model.py", "exec")
    result = compare({**honest, **copies}, shared=STARTUP, reference=SOLUTION)
    highest_honest = max(honest_scores(honest))
    for style in honest:
        match = result.matches[f"{disguise} {style}"]
        assert match.nearest == style, (disguise, style, match)
        assert match.score > highest_honest, (disguise, style, match.score, highest_honest)


@pytest.mark.parametrize("disguise", DISGUISES)
def test_a_disguised_copy_of_the_reference_is_nearer_it_than_any_honest_file(honest, disguise):
    reference = solved_startup({1, 2, 3, 4})
    copy = DISGUISES[disguise](reference)
    result = compare({**honest, "copy": copy}, shared=STARTUP, reference=SOLUTION)
    assert result.matches["copy"].reference > max(result.matches[style].reference for style in honest)


def test_what_every_submission_shares_counts_for_nothing():
    assert compare({"a": STARTUP, "b": STARTUP}, shared=STARTUP).matches["a"].score == 0.0
    assert fingerprints("") == {} and fingerprints("def f(:\n") is not None  # no parse: no crash


def test_the_report_shows_the_matching_lines_side_by_side(honest):
    copy = renamed(honest["loops"])
    texts = {"loops": honest["loops"], "copy": copy}
    [pair] = compare(texts, shared=STARTUP).pairs
    report = side_by_side(pair, texts)
    assert report.startswith("1.00  loops  <->  copy")
    assert 'self.W.grad = np.einsum("nd,nm->dm", x, grad_output)' in report
    assert 'self.W.grad = np.einsum("nd,nm->dm", inputs, upstream)' in report


@pytest.mark.requires("sandbox")
def test_grading_a_batch_reports_copies_in_the_table_and_the_csv(tmp_path, honest):
    from submissions import copy_kit, read_csv

    kit = copy_kit(tmp_path / "kit")
    paths = {style: write_submission(tmp_path / "batch", style, text) for style, text in honest.items()}
    paths["copy"] = write_submission(tmp_path / "batch", "copy", all_at_once(honest["tanh"]))
    result = run_grade(kit, *paths.values(), "--csv", tmp_path / "grades.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "grades.csv")
    assert rows[str(paths["copy"])]["most_similar"] == str(paths["tanh"])
    assert float(rows[str(paths["copy"])]["similarity"]) > 0.6
    assert 0 <= float(rows[str(paths["dot"])]["similarity_to_reference"]) < 0.6
    assert "Similar pairs" in result.stdout and "<->" in result.stdout
    single = run_grade(kit, paths["dot"], "--json", tmp_path / "results.json", "--similarity", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert "similar" not in (tmp_path / "results.json").read_text(encoding="utf-8"), "students see results.json"
