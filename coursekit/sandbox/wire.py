"""The messages between the grader and the student's process: FRAME, a JSON header that lists its buffers' lengths,
the buffers (arrays' bytes). The student's side (below) blocks and trusts the grader; the grader's side (process.py,
values.py) does neither.
"""

import json
import os
import struct

FRAME = struct.Struct(">II")  # every message: the length of its JSON header, the length of the bytes after it
MAX_PAYLOAD = 64 << 20  # bytes of array data in one message
NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the arrays that may cross
MODULE_HANDLE = 0  # the handle of the student's module


def pack(header, buffers=()):
    buffers = [bytes(buffer) for buffer in buffers]
    head = json.dumps(dict(header, buffers=[len(b) for b in buffers]), separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(head), sum(len(b) for b in buffers)) + head + b"".join(buffers)


def split_payload(payload, lengths):
    buffers, start = [], 0
    for length in lengths:
        buffers.append(payload[start:start + length])
        start += length
    return buffers


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
    head_length, payload_length = FRAME.unpack(read_exactly(fd, FRAME.size))
    header = json.loads(read_exactly(fd, head_length))
    return header, split_payload(read_exactly(fd, payload_length), header["buffers"])


def send(fd, header, buffers=()):
    data = memoryview(pack(header, buffers))
    while data:
        data = data[os.write(fd, data):]
