"""The values that cross between the grader and the student's process: arrays of numbers, numbers, text, lists,
tuples and dicts of these, NumPy dtypes, and handles to the student's objects (which come back as proxies). Nothing
is unpickled; what comes back is checked at every node (validation.py): anything malformed fails that one call.
"""

import numpy as np

from . import wire
from .errors import DeadObjectError
from .proxies import RemoteObject
from .validation import Malformed, checked_array, checked_dtype, checked_list, cut, is_int, is_key, type_name


def encode(value, out, generation, depth=0):
    """value as JSON for the student's process, its arrays appended to out. TypeError for what cannot cross, and
    DeadObjectError for a proxy of a process other than the live one (`generation`)."""
    if depth > wire.MAX_DEPTH:
        raise TypeError("a value nested too deep to send to the student's code")
    if isinstance(value, RemoteObject):
        if value._generation is not None and value._generation != generation:
            raise DeadObjectError("an object of a student's process that was stopped since cannot be sent")
        return {"$": "ref", "id": value._handle}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.ascontiguousarray(value)
        if array.dtype.kind not in wire.NUMERIC_KINDS or array.dtype.fields:
            raise TypeError(f"only arrays of numbers cross to the student's code, not of dtype {array.dtype}")
        out.append(array.tobytes())
        if isinstance(value, np.generic):
            return {"$": "scalar", "dtype": array.dtype.str, "buffer": len(out) - 1}
        return {"$": "array", "dtype": array.dtype.str, "shape": list(array.shape), "buffer": len(out) - 1}
    if isinstance(value, np.dtype):
        return {"$": "dtype", "dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"$": "type", "dtype": np.dtype(value).str}
    if isinstance(value, np.random.Generator):  # sent as its state: a copy
        return {"$": "generator", "state": encode(value.bit_generator.state, out, generation, depth + 1)}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return {"$": type(value).__name__, "items": [encode(item, out, generation, depth + 1) for item in value]}
    if type(value) is dict:
        return {"$": "dict", "items": [[key, encode(item, out, generation, depth + 1)] for key, item in value.items()]}
    raise TypeError(f"a {type(value).__name__} cannot be sent to the student's code: only numbers, text, "
                    f"arrays of numbers, lists, tuples and dicts of these, and the student's own objects")


def decode(node, buffers, proxy):
    """The value a reply's node describes, trusting nothing; proxy(type name, handle) makes the proxy of one of
    the student's objects."""
    count = [0]  # nodes decoded: one value holds at most wire.MAX_ITEMS

    def value(node, depth):
        count[0] += 1
        if depth > wire.MAX_DEPTH + 1 or count[0] > wire.MAX_ITEMS:
            raise Malformed("a value nested too deep or too large")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is str:
            return cut(node, 2000)
        tag = node.get("$") if type(node) is dict else None
        if tag in ("array", "scalar"):
            return checked_array(node, buffers, tag)
        if tag in ("dtype", "type"):
            dtype = checked_dtype(node.get("dtype"))
            return dtype if tag == "dtype" else dtype.type
        if tag in ("list", "tuple"):
            items = [value(item, depth + 1) for item in checked_list(node.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = checked_list(node.get("items"))
            if not all(type(pair) is list and len(pair) == 2 and is_key(pair[0]) for pair in pairs):
                raise Malformed("a dict with invalid keys")
            return {value(key, depth + 1): value(item, depth + 1) for key, item in pairs}
        if tag == "ref":
            handle, name = node.get("id"), node.get("type")
            if not (is_int(handle) and handle >= 0 and type(name) is str):
                raise Malformed("an invalid handle")
            return proxy(type_name(name), handle)
        raise Malformed(f"an unknown kind of value {str(tag)[:40]!r}" if tag else f"a bare {type(node).__name__}")

    return value(node, 0)
