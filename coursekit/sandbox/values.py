"""The values that cross between the grader and the student's process, in both directions.

Only data crosses: arrays of numbers, numbers, text, lists, tuples and dicts of these, NumPy dtypes, and handles to
the student's objects (which come back as proxies). Nothing is unpickled. What goes out is the grader's own data;
what comes back is checked at every node (coursekit/sandbox/validation.py): anything malformed fails that one call.

Attributes that reading runs no code for (plain values of an object's own __dict__) come with each object as a
Snapshot, which the grader reads without a request until the student's code runs again (coursekit/sandbox/
client.py; the student's process decides what goes into one: server.py, plain_state).
"""

from dataclasses import dataclass

import numpy as np

from . import wire
from .errors import DeadObjectError
from .proxies import RemoteObject
from .validation import Malformed, checked_array, checked_dtype, checked_list, is_int, is_key, type_name


@dataclass
class Snapshot:
    """Attributes of one of the student's objects, as they were when its process last answered (epoch).

    values:   name -> value, for the attributes that reading runs no code for
    settable: assigning an attribute runs no code (except the names in guarded)
    """

    epoch: int
    values: dict
    settable: bool
    guarded: frozenset


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


class Decoder:
    """The values of one reply from the student's process, back into objects of this process, trusting nothing.

    buffers:   the reply's buffers (the bytes of its arrays)
    clean:     the filter every string goes through (validation.TextFilter)
    proxy:     proxy(type name, handle, methods): the proxy of one of the student's objects
    snapshots: handle -> Snapshot, where the snapshots that come with objects are stored, as of `epoch`
    """

    def __init__(self, buffers, clean, proxy, snapshots, epoch):
        self.buffers = buffers
        self.clean = clean
        self.proxy = proxy
        self.snapshots = snapshots
        self.epoch = epoch
        self.count = 0  # nodes decoded: one value holds at most wire.MAX_ITEMS

    def value(self, node):
        """The value that node describes."""
        self.count = 0
        return self._value(node, 0)

    def snapshot(self, node):
        """The Snapshot that node ({"state": ..., "settable": ..., "guarded": ...}) describes."""
        self.count = 0
        return self._snapshot(node, 0)

    def _value(self, node, depth):
        self.count += 1
        if depth > wire.MAX_DEPTH + 1 or self.count > wire.MAX_ITEMS:
            raise Malformed("a value nested too deep or too large")
        if node is None or type(node) in (bool, int, float):
            return node
        if type(node) is str:
            return self.clean(node, 2000)
        if type(node) is not dict:
            raise Malformed(f"a bare {type(node).__name__}")
        tag = node.get("$")
        if tag in ("array", "scalar"):
            return checked_array(node, self.buffers, tag)
        if tag in ("dtype", "type"):
            dtype = checked_dtype(node.get("dtype"))
            return dtype if tag == "dtype" else dtype.type
        if tag in ("list", "tuple"):
            items = [self._value(item, depth + 1) for item in checked_list(node.get("items"))]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            pairs = checked_list(node.get("items"))
            if not all(type(pair) is list and len(pair) == 2 and is_key(pair[0]) for pair in pairs):
                raise Malformed("a dict with invalid keys")
            return {self._value(key, depth + 1): self._value(item, depth + 1) for key, item in pairs}
        if tag == "ref":
            handle, name, methods = node.get("id"), node.get("type"), checked_list(node.get("methods"), 1000)
            if not (is_int(handle) and handle >= 0 and type(name) is str and all(type(m) is str for m in methods)):
                raise Malformed("an invalid handle")
            if "state" in node:
                self.snapshots[handle] = self._snapshot(node, depth)
            return self.proxy(type_name(name, self.clean), handle, frozenset(methods))
        raise Malformed(f"an unknown kind of value {str(tag)[:40]!r}")

    def _snapshot(self, node, depth):
        state, guarded = checked_list(node.get("state"), 1000), checked_list(node.get("guarded"), 1000)
        if not all(type(pair) is list and len(pair) == 2 and type(pair[0]) is str for pair in state) or \
                not all(type(name) is str for name in guarded) or type(node.get("settable")) is not bool:
            raise Malformed("an invalid snapshot")
        values = {name: self._value(value, depth + 1) for name, value in state}
        return Snapshot(self.epoch, values, node["settable"], frozenset(guarded))
