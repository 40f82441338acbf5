"""Checking values and gradients: float64 central differences; require_* raise CheckFailed saying what was expected,
what came, where, and why (a mistake the check names, a factor such as 1/N or -1, zeros, whole numbers)."""

from dataclasses import dataclass

import numpy as np

from .i18n import say

SEED = 3  # every check draws its inputs from inputs_rng(): the same numbers every run, unless use_seed() says
STEP = 1e-5  # finite difference step, in float64
TOLERANCE = 1e-6  # allowed error, relative to the largest expected value (at least 1)
SMALL_ARRAY = 15  # arrays up to this many values are printed whole in the report
WORST_SHOWN = 3  # entries named in the summary of a large wrong array
NOTES = []  # what the check running now saw worth telling, passing or not (the runner empties it before each)


def use_seed(seed):
    """The grader draws a seed per run, so that inputs cannot be hard-coded."""
    global SEED
    SEED = seed


def inputs_rng(offset=0):
    return np.random.default_rng(SEED + offset)


@dataclass(frozen=True)
class Size:  # a dimension of a check's arrays
    letter: str
    value: int
    en: str  # what it is, in English and in Chinese
    zh: str

    def meaning(self):
        return say(self.en, self.zh)


class CheckFailed(Exception):
    """detail: what was expected, what came; got, expected, tolerance: for --explain."""

    def __init__(self, detail, hint="", got=None, expected=None, tolerance=None):
        super().__init__(detail)
        self.detail, self.hint, self.got, self.expected, self.tolerance = detail, hint, got, expected, tolerance


class WaitsFor(Exception):
    """The method is right for the wrong state another method left: the check waits for `check`."""

    def __init__(self, check, detail):
        super().__init__(detail)
        self.check, self.detail = check, detail


def numeric_gradient(f, array):
    """Central differences: d f() / d array, changing each element of array in place by +-STEP (then restoring it)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + STEP
        plus = f()
        array[index] = saved - STEP
        grad[index] = (plus - f()) / (2 * STEP)
        array[index] = saved
    return grad


def random_inputs(rng, shape, low=-2.0, high=2.0):
    """Float64 values in [low, high), kept away from 0 (where ReLU has its kink)."""
    values = rng.uniform(low, high, shape)
    return np.where(np.abs(values) < 0.1, values + np.sign(values + 1e-9) * 0.2, values)


def one_hot(labels, classes, dtype=np.float64):
    return np.eye(classes, dtype=dtype)[labels]


def width(text):
    """Columns text takes on a console: a Chinese character takes two."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


LABELS_ZH = {"expected": "期望", "got": "实际", "wrong": "出错", "before": "之前", "after": "之后", "first": "第一次",
             "second": "第二次"}


def label(name):
    """'expected ', 'got      ' (期望, 实际): the prefixes of the arrays shown, aligned."""
    text = say(name, LABELS_ZH[name])
    return text + " " * (say(9, 7) - width(text))


def gradient_of(cls, name=""):
    """'dx, the gradient returned by Softmax.backward' (name 'dx'), or without a name."""
    text = say(f"the gradient returned by {cls}.backward", f"{cls}.backward 返回的梯度")
    return say(f"{name}, {text}", f"{name}（{text}）") if name else text


def show(array, prefix):
    return prefix + np.array2string(np.asarray(array), precision=4, suppress_small=True, separator=", ",
                                    prefix=" " * width(prefix))


def show_mask(wrong, prefix):
    """x for a wrong entry, . for a right one, laid out like the array."""
    return prefix + np.array2string(np.asarray(wrong), separator=" ", prefix=" " * width(prefix),
                                    formatter={"bool": lambda bad: "x" if bad else "."})


def shape_text(shape, sizes=()):
    """(3, 5) as '(N, M) = (3, 5)' when sizes name every dimension unambiguously, else '(3, 5)'."""
    shape = tuple(int(n) for n in shape)
    plain = str(shape)
    letters = [[size.letter for size in sizes if size.value == n] for n in shape]
    if not shape or all(n == 1 for n in shape) or any(n != 1 and len(found) != 1 for n, found in zip(shape, letters)):
        return plain
    names = ["1" if n == 1 else found[0] for n, found in zip(shape, letters)]
    return "(" + ", ".join(names) + ("," if len(shape) == 1 else "") + ") = " + plain


def require_array(got, shape, what, dtype=None, sizes=()):
    """got must be an ndarray of this shape (and dtype): else CheckFailed saying what came instead."""
    expected = shape_text(shape, sizes)
    if got is None:
        raise CheckFailed(say(f"{what} is None: is a `return` missing, or a `self.... =`?",
                              f"{what} 是 None：是不是少了 `return`，或者少了给 `self....` 的赋值？"))
    if np.ndim(got) == 0 and isinstance(got, (np.ndarray, np.generic, int, float)):
        raise CheckFailed(say(f"{what} should be an array of shape {expected}, got one number ({float(got):.6g}).",
                              f"{what} 应该是形状为 {expected} 的数组，实际是一个数（{float(got):.6g}）。"),
                          say("A sum with no axis (np.sum(a), a.sum()) adds up every value into one number: give "
                              "the axis to sum over, with keepdims=True.",
                              "不写 axis 的求和（np.sum(a)、a.sum()）把所有的值加成一个数：写出要求和的轴，再加上 "
                              "keepdims=True。"))
    if not isinstance(got, np.ndarray):
        kind = type(got).__name__
        raise CheckFailed(say(f"{what} should be a NumPy array of shape {expected}, got a {kind}.",
                              f"{what} 应该是形状为 {expected} 的 NumPy 数组，实际是 {kind}。"))
    if got.shape != shape:
        raise CheckFailed(say(f"{what} should have shape {expected}, got {shape_text(got.shape, sizes)}.",
                              f"{what} 的形状应该是 {expected}，实际是 {shape_text(got.shape, sizes)}。"),
                          shape_hint(got.shape, shape))
    if dtype is not None and got.dtype != dtype:
        name = np.dtype(dtype).name
        raise CheckFailed(say(f"{what} should keep the input's dtype {name}, got {got.dtype.name}.",
                              f"{what} 应该保持输入的数据类型 {name}，实际是 {got.dtype.name}。"),
                          say("Training runs in float32. float64 comes from arrays made without a dtype "
                              "(np.zeros(shape), np.array of Python floats, math.exp in a loop) or .astype(np.float64):"
                              " compute on the input array with NumPy (np.exp(x)), or use np.zeros_like(x).",
                              "训练用 float32。float64 来自没写 dtype 的新数组（np.zeros(shape)、由 Python 数构成的 "
                              "np.array、循环里的 math.exp）或 .astype(np.float64)：直接对输入数组用 NumPy 计算"
                              "（np.exp(x)），或者用 np.zeros_like(x)。"))
    return got


def shape_hint(got, expected):
    if got == tuple(n for n in expected if n != 1) and got != expected:
        return say("The summed axis was dropped: .sum(axis=..., keepdims=True) keeps it, as a 1.",
                   "求和的那个轴没有了：.sum(axis=..., keepdims=True) 会把它保留成长度 1。")
    if len(got) == len(expected) == 2 and got == expected[::-1]:
        return say("It is transposed: check which side of the product needs .T.",
                   "形状正好反了（转置了）：看看乘积的哪一边需要 .T。")
    if len(got) == len(expected) == 2 and 1 in got and 1 in expected:
        return say(f"A sum over the other axis? Summing over axis {expected.index(1)} gives {expected}.",
                   f"是不是对另一个轴求和了？对 axis={expected.index(1)} 求和才得到 {expected}。")
    return say("Every gradient has the shape of what it is the gradient of: check the docstrings.",
               "每个梯度的形状都和它对应的那个数组相同：对照 model.py 里各个函数说明写的形状。")


def scale_factor(got, expected):
    """c when got is c * expected for one constant c (a missing or extra 1/N, a wrong sign), else None."""
    flat_expected, flat_got = expected.ravel(), got.ravel()
    if not np.all(np.isfinite(flat_got)) or not np.any(flat_expected):
        return None
    c = float(flat_got @ flat_expected / (flat_expected @ flat_expected))
    if abs(c) > 1e-9 and np.allclose(flat_got, c * flat_expected, rtol=1e-6, atol=1e-9):
        return c
    return None


def explain_factor(c, sizes=()):
    """What got = c * expected suggests, naming the sizes (N, M...) a factor may be about."""
    reasons = [(-1.0, say(": the sign is wrong.", "：符号反了。"))]
    for size in sizes:
        letter, value, where = size.letter, size.value, say(f"where {size.letter} = {size.value} is {size.meaning()}",
                                                            f"其中 {size.letter} = {size.value} 是{size.meaning()}")
        signed = say(f": the sign is wrong, and a factor {letter} = {value} ({size.meaning()}).",
                     f"：符号反了，还差一个因子 {letter} = {value}（{size.meaning()}）。")
        reasons += [(1.0 / value, say(f" = 1/{letter}, {where}: an extra division by {letter}.",
                                      f" = 1/{letter}，{where}：多除了一个 {letter}。")),
                    (float(value), say(f" = {letter}, {where}: a missing division by {letter}.",
                                       f" = {letter}，{where}：少除了一个 {letter}。")),
                    (-1.0 / value, signed), (-float(value), signed)]
    reasons += [(wanted.value / used.value,  # got = S / used where S / wanted is expected
                 say(f" = {wanted.letter}/{used.letter}: divided by {used.letter} = {used.value} ({used.meaning()}) "
                     f"instead of {wanted.letter} = {wanted.value} ({wanted.meaning()}).",
                     f" = {wanted.letter}/{used.letter}：除以的是 {used.letter} = {used.value}（{used.meaning()}），"
                     f"应该除以 {wanted.letter} = {wanted.value}（{wanted.meaning()}）。"))
                for used in sizes for wanted in sizes if used.letter != wanted.letter]
    reason = next((text for value, text in reasons if np.isclose(c, value)), say(".", "。"))
    return say(f"got = expected x {c:.4g}", f"实际 = 期望 × {c:.4g}") + reason


def require_close(got, expected, what, sizes=(), mistakes=(), not_finite=""):
    """got must equal expected up to TOLERANCE (relative to the largest expected value): else CheckFailed.
    sizes: to name a factor such as 1/N; mistakes: (value, message, hint), the message said when got is value;
    not_finite: the hint when got holds inf or NaN."""
    source = got
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    tolerance = TOLERANCE * max(1.0, float(np.max(np.abs(expected))))

    def failed(lines, hint=""):
        return CheckFailed("\n".join(lines), hint, got=source, expected=expected, tolerance=tolerance)

    if np.all(np.isfinite(got)) and np.max(np.abs(got - expected)) <= tolerance:
        return  # before anything is formatted: most checks pass
    small = expected.size <= SMALL_ARRAY
    shown = [show(expected, label("expected")), show(got, label("got"))] if small else []
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise failed([say(f"{what} contains {got[bad]} (at index {bad}), where {expected[bad]:.6g} was expected.",
                          f"{what} 里有 {got[bad]}（在下标 {bad} 处），期望值是 {expected[bad]:.6g}。"), *shown],
                     not_finite)
    errors = np.abs(got - expected)
    if small and 0 < np.count_nonzero(errors > tolerance) < got.size:
        shown.append(show_mask(errors > tolerance, label("wrong")))
    lines = [summary(what, got, expected, errors, tolerance), *shown]
    for value, message, hint in mistakes:
        if np.shape(value) == got.shape and np.allclose(got, value, rtol=1e-5, atol=tolerance):
            raise failed([message, *(shown if small else lines)], hint)
    factor = scale_factor(got, expected)
    if not np.any(got):
        lines.append(say("Every value of it is 0: is it computed at all?", "它的每个值都是 0：真的算了吗？"))
    elif np.all(got == np.round(got)) and not np.all(expected == np.round(expected)):
        lines.append(say("Every value of it is a whole number: was something rounded down, by a floor division // "
                         "(use /) or an integer array (astype(int), np.floor)?",
                         "它的每个值都是整数：是不是哪里被向下取整了？比如整除 //（应该用 /），或者整数数组"
                         "（astype(int)、np.floor）。"))
    elif factor is not None:
        lines.append(explain_factor(factor, sizes))
    raise failed(lines)


def summary(what, got, expected, errors, tolerance):
    """One line: how much of got is wrong, the largest error against the tolerance, where the worst entries are."""
    wrong = np.count_nonzero(errors > tolerance)
    if got.ndim == 0:
        return say(f"{what} is wrong: expected {float(expected):.6g}, got {float(got):.6g} (allowed error "
                   f"{tolerance:.2g}).",
                   f"{what} 不对：期望值 {float(expected):.6g}，实际 {float(got):.6g}（允许的误差 {tolerance:.2g}）。")
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(errors), errors.shape))
    text = say(f"{what} is wrong in {wrong} of its {got.size} values; the largest error is {errors[worst]:.4g}, "
               f"at index {worst}: expected {expected[worst]:.6g}, got {got[worst]:.6g} (allowed error "
               f"{tolerance:.2g}).",
               f"{what} 的 {got.size} 个值中有 {wrong} 个不对；最大误差 {errors[worst]:.4g}，在下标 {worst} 处："
               f"期望值 {expected[worst]:.6g}，实际 {got[worst]:.6g}（允许的误差 {tolerance:.2g}）。")
    if got.size > SMALL_ARRAY and wrong > 1:
        order = np.argsort(errors, axis=None)[::-1][:min(WORST_SHOWN, wrong)]
        places = ", ".join(str(tuple(int(i) for i in np.unravel_index(k, errors.shape))) for k in order)
        text += say(f" Worst at {places}.", f"误差最大的位置：{places}。")
    return text
