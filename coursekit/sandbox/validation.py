"""Trusting nothing that comes from the student's process: whatever its code does, a reply is data of bounded size
and known form (anything else raises Malformed, which fails that one call), and its text is cut short.
"""

import re

import numpy as np

from . import wire

MAX_MESSAGE = 600  # characters kept of an exception message or a string from the student's process
DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")
NAME = re.compile(r"<?[A-Za-z_][A-Za-z0-9_]{0,60}>?")


class Malformed(Exception):
    """The student's process sent something that is not a valid reply."""


def cut(text, limit=MAX_MESSAGE):
    return text if len(text) <= limit else text[:limit] + " [...]"


def type_name(name):
    """The name of a type of the student's, as reports show it: a plain identifier, or "object"."""
    name = cut(name, 60)
    return name if NAME.fullmatch(name) and not name.startswith("<") else "object"


def is_int(value):
    return type(value) is int


def is_key(value):
    return value is None or type(value) in (bool, int, float, str)


def bounded_int(text):
    """JSON integers of at most 40 digits: a huge one could take seconds to parse (or not parse at all)."""
    if len(text) > 40:
        raise ValueError("an integer of more than 40 digits")
    return int(text)


def checked_list(value, limit=wire.MAX_ITEMS):
    if type(value) is not list or len(value) > limit:
        raise Malformed("an invalid list")
    return value


def checked_dtype(text):
    if type(text) is not str or not DTYPE.fullmatch(text):
        raise Malformed("an invalid dtype")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise Malformed("an unknown dtype") from None
    if dtype.kind not in wire.NUMERIC_KINDS or dtype.fields:
        raise Malformed("a dtype that is not numeric")
    return dtype


def checked_array(node, buffers, tag):
    """The array (tag "array") or NumPy scalar ("scalar") that node describes, its bytes from buffers."""
    dtype = checked_dtype(node.get("dtype"))
    index = node.get("buffer")
    if not (is_int(index) and 0 <= index < len(buffers)):
        raise Malformed("an array without its data")
    shape = [1] if tag == "scalar" else checked_list(node.get("shape"), 32)
    if not all(is_int(n) and 0 <= n <= wire.MAX_PAYLOAD for n in shape):
        raise Malformed("an invalid shape")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(buffers[index]):
        raise Malformed("an array whose data does not match its shape")
    array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
    return array[0] if tag == "scalar" else array
