"""The one error a request can be refused with, in its own module so every layer can raise it
without importing another (services, validation, the socket protocol, workspaces, sharing)."""
from __future__ import annotations

# A turn named by a request is not (or no longer) in its conversation: said without its id, which
# means nothing to the person reading it.
TURN_GONE = (
    "That message is no longer in this conversation: it may have been deleted. Reload the page to see it as it is now."
)


class ServiceError(Exception):
    """A request refused or impossible, with a message for the person who made it and a short
    code for programs (the page and the socket protocol send both)."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
