"""Status codes and the one exception type of the client."""
from __future__ import annotations

import enum

from .v1 import swiftps_pb2 as pb


class StatusCode(enum.IntEnum):
    """The wire's status codes, numbered as gRPC's (``swiftps.v1.StatusCode``)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


def code_name(code: int) -> str:
    """The name of a status code number; unknown numbers are named ``UNKNOWN(n)``."""
    try:
        return StatusCode(code).name
    except ValueError:
        return f"UNKNOWN({code})"


class SwiftPSError(Exception):
    """A call that did not succeed: the reply's status (or one the client made up: DEADLINE_EXCEEDED when no reply
    came in time, CANCELLED once closed, INTERNAL for a reply that does not match its request).

    ``code`` is the status number, ``code_name`` its name (``"FAILED_PRECONDITION"``), ``message`` the text for
    people, ``method`` the rpc and ``endpoint`` the peer, when known.
    """

    def __init__(self, code: int, message: str, *, method: str | None = None, endpoint: str | None = None):
        self.code = int(code)
        self.message = message
        self.method = method
        self.endpoint = endpoint
        where = ""
        if method or endpoint:
            where = f" ({method or '?'} at {endpoint or '?'})"
        super().__init__(f"{self.code_name}: {message}{where}")

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    @property
    def status(self) -> StatusCode | None:
        """The code as a ``StatusCode``; None for a number the protocol does not define."""
        try:
            return StatusCode(self.code)
        except ValueError:
            return None


def error_from_status(status: pb.Status, *, method: str | None = None, endpoint: str | None = None) -> SwiftPSError:
    """The exception for a reply's ``Status``."""
    return SwiftPSError(status.code, status.message, method=method, endpoint=endpoint)
