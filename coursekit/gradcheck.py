"""Checking a layer's values and gradients: float64 central differences, and comparisons that say what went wrong.

A check calls the student's code, then one of the require_* functions below on what came back; each raises
CheckFailed with what was expected, what came instead, and a diagnosis when the difference has a known shape
(a constant factor such as 1/N or -1, a transposed array, all zeros).
"""

import numpy as np

SEED = 3  # every check draws its inputs from inputs_rng(): the same numbers every run, unless use_seed() says
STEP = 1e-5  # finite difference step, in float64
TOLERANCE = 1e-6  # allowed error, relative to the largest expected value (at least 1)
SMALL_ARRAY = 15  # arrays up to this many values are printed whole in the report


def use_seed(seed):
    """Draw every check's inputs from this seed (the grader draws one per run, so inputs cannot be hard-coded)."""
    global SEED
    SEED = seed


def inputs_rng(offset=0):
    """A fresh generator of check inputs: the same numbers for the same seed (offset: a second, independent one)."""
    return np.random.default_rng(SEED + offset)


class CheckFailed(Exception):
    """Raised by a check: what was expected and what came instead, and a hint for this particular failure."""

    def __init__(self, detail, hint=""):
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def numeric_gradient(f, array):
    """Central differences: d f() / d array, changing each element of array in place by +-STEP (then restoring it)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + STEP
        plus = f()
        array[index] = saved - STEP
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * STEP)
    return grad


def random_inputs(rng, shape, low=-2.0, high=2.0):
    """Float64 values in [low, high) drawn from rng, kept away from 0 (where ReLU has its kink)."""
    values = rng.uniform(low, high, shape)
    return np.where(np.abs(values) < 0.1, values + np.sign(values + 1e-9) * 0.2, values)


def one_hot(labels, classes, dtype=np.float64):
    return np.eye(classes, dtype=dtype)[labels]


def show(array, prefix):
    """An array on as few lines as it takes, aligned after prefix."""
    text = np.array2string(np.asarray(array), precision=4, suppress_small=True, separator=", ", prefix=prefix)
    return prefix + text


def require_array(got, shape, what, dtype=None):
    """got must be an ndarray of this shape (and dtype): else CheckFailed saying what came instead."""
    if got is None:
        raise CheckFailed(f"{what} is None: is a `return` missing?")
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{what} should be a NumPy array of shape {shape}, got a {type(got).__name__}.")
    if got.shape != tuple(shape):
        transposed = " (transposed?)" if got.shape == tuple(shape)[::-1] else ""
        raise CheckFailed(f"{what} should have shape {tuple(shape)}, got {got.shape}{transposed}.",
                          "Every gradient has the shape of what it is the gradient of: check the docstrings.")
    if dtype is not None and got.dtype != dtype:
        raise CheckFailed(f"{what} should keep the input's dtype {np.dtype(dtype).name}, got {got.dtype.name}.",
                          "Training runs in float32: keep the input's dtype (no .astype(np.float64), no float64 "
                          "arrays mixed into the computation).")
    return got


def require_number(got, what, meaning="", hint=""):
    """got must be one number (a Python float, or a NumPy scalar): else CheckFailed. meaning: what the number is."""
    if got is None:
        raise CheckFailed(f"{what} is None: is a `return` missing?")
    if np.ndim(got) != 0 or not np.isrealobj(got):
        shape = f"an array of shape {np.shape(got)}" if isinstance(got, np.ndarray) else f"a {type(got).__name__}"
        raise CheckFailed(f"{what} should be one number{', ' + meaning if meaning else ''}, got {shape}.", hint)
    return float(got)


def scale_factor(got, expected):
    """c when got is c * expected for one constant c (a common slip: a missing or extra 1/N, a wrong sign)."""
    flat_expected, flat_got = expected.ravel(), got.ravel()
    if not np.all(np.isfinite(flat_got)) or not np.any(flat_expected):
        return None
    c = float(flat_got @ flat_expected / (flat_expected @ flat_expected))
    if abs(c) > 1e-9 and np.allclose(flat_got, c * flat_expected, rtol=1e-6, atol=1e-9):
        return c
    return None


def explain_factor(c, batch_size=None):
    """What got = c * expected suggests; batch_size: the N of the check, when the slip may be about N."""
    text = f"got = expected x {c:.4g}"
    if np.isclose(c, -1.0):
        return text + ": the sign is wrong."
    if batch_size and np.isclose(c, 1.0 / batch_size):
        return text + f" = 1/N, where N = {batch_size} is the batch size: an extra division by N."
    if batch_size and np.isclose(c, float(batch_size)):
        return text + f" = N, where N = {batch_size} is the batch size: a missing division by N."
    return text + "."


def require_close(got, expected, what, batch_size=None):
    """got must equal expected up to TOLERANCE (relative to the largest expected value): else CheckFailed."""
    got = np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))))
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise CheckFailed(f"{what} contains {got[bad]} (at index {bad}), where {expected[bad]:.6g} was expected.")
    errors = np.abs(got - expected)
    if np.max(errors) <= TOLERANCE * scale:
        return
    if expected.size <= SMALL_ARRAY:
        lines = [f"{what} is wrong.", show(expected, "expected "), show(got, "got      ")]
    else:
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        worst = tuple(int(i) for i in worst)
        wrong = np.count_nonzero(errors > TOLERANCE * scale)
        lines = [f"{what} is wrong in {wrong} of its {got.size} values; the largest error is {errors[worst]:.4g}, "
                 f"at index {worst}: expected {expected[worst]:.6g}, got {got[worst]:.6g}."]
    factor = scale_factor(got, expected)
    if not np.any(got):
        lines.append("Every value of it is 0: is it computed at all?")
    elif factor is not None:
        lines.append(explain_factor(factor, batch_size))
    raise CheckFailed("\n".join(lines))
