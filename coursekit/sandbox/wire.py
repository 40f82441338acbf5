"""The messages between the grader and the student's process (the sandbox's wire protocol), and their limits.

Every message is FRAME (the length of its JSON header, the length of the bytes after it), then the header as JSON
(it lists the lengths of its buffers), then the buffers: the bytes of the arrays it carries. The limits bound what
the grader accepts from the student's process (coursekit/sandbox/process.py and values.py check every reply).

Both sides use this file: the grader imports it, and the student's process runs its text (see process.py), so it
imports nothing but the standard library. The student's process reads and writes with receive() and send(), which
block and trust the grader; the grader's side, which never blocks on the student's process nor trusts it, is
coursekit/sandbox/process.py.
"""

import json
import os
import struct

FRAME = struct.Struct(">II")  # every message: the length of its JSON header, the length of the bytes after it
MAX_HEADER = 8 << 20  # bytes of JSON in one message
MAX_PAYLOAD = 64 << 20  # bytes of array data in one message
MAX_DEPTH = 16  # nesting of lists, tuples and dicts
MAX_ITEMS = 100_000  # values in one reply
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the arrays that may cross
MODULE_HANDLE = 0  # the handle of the student's module


def pack(header, buffers=()):
    """One message: FRAME, then the header as JSON (it lists the buffers' lengths), then the buffers."""
    buffers = [bytes(buffer) for buffer in buffers]
    head = json.dumps(dict(header, buffers=[len(b) for b in buffers]), separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), sum(len(b) for b in buffers)) + head + b"".join(buffers)


def split_payload(payload, lengths):
    """The buffers of a message, given the lengths its header lists."""
    buffers, start = [], 0
    for length in lengths:
        buffers.append(payload[start:start + length])
        start += length
    return buffers


# ---------------------------------------------------------------------------------------------------------------
# The student's process's side: blocking, and trusting the grader.


def read_exactly(fd, count):
    chunks = []
    while count:
        chunk = os.read(fd, min(count, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the channel")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def receive(fd):
    """The next request from the grader: (header, buffers). The grader is trusted: no checks."""
    head_length, payload_length = FRAME.unpack(read_exactly(fd, FRAME.size))
    header = json.loads(read_exactly(fd, head_length))
    return header, split_payload(read_exactly(fd, payload_length), header["buffers"])


def send(fd, header, buffers=()):
    data = memoryview(pack(header, buffers))
    while data:
        data = data[os.write(fd, data):]
