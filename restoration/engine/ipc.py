"""Frames between the job runner and an engine worker process: an 8-byte length, then a pickle.

Pickle protocol 5 sends numpy arrays without an extra copy of their data. Both ends are this
project's own code on one machine (a pipe, not a socket), so unpickling is not a trust
boundary.
"""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any

_HEADER = struct.Struct("!Q")
_CHUNK = 16 * 1024 * 1024


def send(stream: IO[bytes], message: Any) -> None:
    payload = pickle.dumps(message, protocol=5)
    stream.write(_HEADER.pack(len(payload)))
    view = memoryview(payload)
    for start in range(0, len(view), _CHUNK):
        stream.write(view[start : start + _CHUNK])
    stream.flush()


def recv(stream: IO[bytes]) -> Any:
    header = _read_exactly(stream, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    return pickle.loads(_read_exactly(stream, size))


def _read_exactly(stream: IO[bytes], size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        # typeshed's IO[bytes] has no readinto; the pipes and files passed here do.
        n = stream.readinto(view[got : got + min(_CHUNK, size - got)])  # type: ignore[attr-defined]
        if not n:
            raise EOFError("the other end closed the pipe")
        got += n
    return buffer
