"""What an exception of the student's code most likely means (DIAGNOSES), with the arrays of the call: NumPy names
neither the arrays of a broadcast or matrix-product error nor, for @, their shapes."""

import re

from .gradcheck import shape_text
from .i18n import say

SHAPES = r"(\([0-9, ]*\))"  # a shape in NumPy's messages, '(3,5)' or '(3, 5)'; a group of the patterns below


def parse_shapes(text):
    """'(3,5) (3,)' -> [(3, 5), (3,)]."""
    return [tuple(int(n) for n in group.strip("()").split(",") if n.strip()) for group in re.findall(SHAPES, text)]


def broadcast(match, call):
    shapes = list(dict.fromkeys(parse_shapes(match[1])[::2 if "->" in match[1] else 1]))  # '(3,5)->(3,5)': originals
    if len(shapes) < 2:
        return ""
    a, b = shapes[:2]
    shown = say(f"{a} and {b}", f"{a} 和 {b}")
    line = say(f"NumPy cannot combine arrays of shapes {shown}: it lines shapes up from the last axis, and each "
               f"pair of sizes must be equal or 1.",
               f"NumPy 没法把形状为 {shown} 的数组放在一起算：广播从最后一个轴开始对齐，每一对长度必须相等或者有一个"
               "是 1。")
    full, reduced = (a, b) if len(a) > len(b) else (b, a)
    if len(full) == len(reduced) + 1 and full[:-1] == reduced:
        kept = (*reduced, 1)
        line += "\n" + say(
            f"{reduced} looks like a sum, max or mean over the last axis without keepdims=True: NumPy lines it up "
            f"with the last axis of {full}, not with its rows. keepdims=True keeps it as {kept}, one value per row, "
            f"which broadcasts.",
            f"{reduced} 像是沿最后一个轴求和（或 max、mean）时没写 keepdims=True：NumPy 会把它和 {full} 的最后一个轴"
            f"对齐，而不是和每一行对齐。加上 keepdims=True 它就是 {kept}，每行一个值，可以广播。")
    elif len(a) == len(b) == 2 and a == b[::-1]:
        line += "\n" + say("One of the two is transposed.", "其中一个转置了。")
    return line


def in_place(match, call):
    out, result = parse_shapes(match[1])[0], parse_shapes(match[2])[0]
    return say(f"An in-place operation (+=, -=, *=, /= or out=) writes a result of shape {result} into an array of "
               f"shape {out}, which cannot hold it. Write the result to a new array (y = a + b) instead.",
               f"原地运算（+=、-=、*=、/= 或 out=）要把形状为 {result} 的结果写进形状为 {out} 的数组，放不下。"
               f"改成写到一个新数组里（y = a + b）。")


def matrix_product(match, call):  # 'matmul: ... (size 5 is different from 4)': B's first axis, then A's last
    if match["sizes"]:
        detail = say(f" (here {match[3]} and {match[2]})", f"（这里是 {match[3]} 和 {match[2]}）")
    else:  # np.dot: 'shapes (3,4) and (5,4) not aligned'
        a, b = parse_shapes(match[4])[0], parse_shapes(match[5])[0]
        detail = say(f": here {a} and {b}", f"：这里是 {a} 和 {b}")
    return say(f"In a matrix product A @ B, the last axis of A must be as long as the first axis of B{detail}. Write "
               f"down the shapes, e.g. (N, D) @ (D, M) -> (N, M), and see which side needs a .T (or has one too many).",
               f"矩阵乘积 A @ B 要求 A 的最后一个轴和 B 的第一个轴一样长{detail}。把形状写出来，比如 "
               f"(N, D) @ (D, M) -> (N, M)，看看哪一边需要 .T（或者多了一个 .T）。")


def index(match, call):
    if match["shapes"] is None:
        return say("An array of floats was used as an index: indices must be integers (or booleans).",
                   "用了浮点数数组做下标：下标必须是整数（或布尔）数组。")
    shapes = " ".join(str(shape) for shape in parse_shapes(match["shapes"]))
    return say(f"The index arrays do not have matching shapes ({shapes}): a[rows, cols] pairs rows[i] with cols[i].",
               f"几个下标数组的形状对不上（{shapes}）：a[rows, cols] 是把 rows[i] 和 cols[i] 配成一对。")


def not_kept(match, call):  # backward reading self.name, which forward did not set, or a local variable of forward
    name = match["attribute"] or match["local"]
    if not (call or "").endswith(".backward"):
        return ""
    if match["attribute"]:
        return say(f"backward reads self.{name}, which forward did not set: forward must keep what backward needs "
                   f"(self.{name} = ...), under the same name.",
                   f"backward 读取 self.{name}，但 forward 没有设置它：backward 要用的东西必须在 forward 里用同一个名字"
                   f"存下来（self.{name} = ...）。")
    return say(f"backward uses {name}, a local variable of forward: it is gone once forward returns. Keep it in "
               f"forward (self.{name} = {name}) and use self.{name} in backward.",
               f"backward 用了 {name}，但它是 forward 的局部变量，forward 返回之后就没有了。在 forward 里把它存"
               f"下来（self.{name} = {name}），在 backward 里用 self.{name}。")


def python_math(match, call):
    return say("math.exp (and the math module) works on one Python number at a time, and raises OverflowError where "
               "the result is too large (exp(x) for x > 709). np.exp on the whole array needs no loop, keeps the "
               "array's dtype, and gives inf with a warning instead; the handout's form never overflows at all.",
               "math.exp（以及整个 math 模块）一次只算一个 Python 数，结果太大时（x > 709 时的 exp(x)）抛出 "
               "OverflowError。对整个数组用 np.exp 不用写循环，保持数组的数据类型，溢出时只给出 inf 和一个警告；讲义里"
               "的写法则根本不会溢出。")


DIAGNOSES = [  # (exception type, pattern of its message, explain(match, call) -> text or ''), the first match wins
    (ValueError, r"broadcast together with (?:remapped )?shapes (.*)", broadcast),
    (ValueError, rf"output operand with shape {SHAPES} doesn't match the broadcast shape {SHAPES}", in_place),
    (ValueError, rf"matmul.*(?P<sizes>size (\d+) is different from (\d+))|shapes {SHAPES} and {SHAPES} not aligned",
     matrix_product),
    (IndexError, r"must be of integer \(or boolean\) type|are valid indices|"
                 r"indexing arrays could not be broadcast together with shapes (?P<shapes>.*)", index),
    ((AttributeError, NameError), r"object has no attribute '(?P<attribute>\w+)'|name '(?P<local>\w+)' is not defined",
     not_kept),
    (OverflowError, r"", python_math),
]


def diagnose_exception(error, call=None, arrays=(), sizes=()):
    """Lines (one string) that explain error, raised in the student's method `call` ('Linear.forward', or None),
    given the arrays of that call [(name, shape)]; '' when there is nothing to add to the error's own message."""
    for kind, pattern, explain in DIAGNOSES:
        match = re.search(pattern, str(error), re.DOTALL) if isinstance(error, kind) else None
        text = explain(match, call) if match else ""
        if text:
            listed = ", ".join(f"{name} {shape_text(shape, sizes)}" for name, shape in arrays)
            where = (say(f"The arrays {call} got here: {listed}.", f"这里 {call} 用到的数组：{listed}。") if call else
                     say(f"The arrays of this check: {listed}.", f"这项检查的数组：{listed}。"))
            return text + ("\n" + where if arrays else "")
    return ""
