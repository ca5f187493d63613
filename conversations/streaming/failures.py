"""What a person reads when a reply fails: one sentence per kind of failure, worded here only.

The providers say what kind of failure it was (providers/base.py: FailureKind) and keep the
technical detail (the upstream's words, the network error, which may name a host, a port or a
masked key) for the server's log. The sentence names the provider by its label and the model by
its name, and says what to do: it is stored on the reply and sent to everyone who reads it, share
links included, so it never carries an address, a port or a key.
"""
from __future__ import annotations

from conversations.providers.base import FailureKind

# What the reader can do when the fault is in this server's setup rather than in their message.
_ASK = "If it keeps happening, ask whoever runs this Workbench to check the {label} settings."


def _wait(seconds: float | None) -> str:
    if seconds is None:
        return "Wait a moment and try again."
    if seconds <= 1:
        return "Try again in a second."
    if seconds < 90:
        return f"Try again in {round(seconds)} seconds."
    minutes = round(seconds / 60)
    return f"Try again in {minutes} minutes."


def failure_sentence(
    kind: FailureKind | str, *, label: str, model: str, retry_after: float | None = None
) -> str:
    """The sentence a failed reply shows for a failure of `kind` from provider `label`."""
    ask = _ASK.format(label=label)
    try:
        kind = FailureKind(kind)
    except ValueError:
        kind = FailureKind.UNKNOWN
    match kind:
        case FailureKind.UNREACHABLE:
            return f"Could not reach {label}: its server did not answer. Try again in a moment. {ask}"
        case FailureKind.TIMEOUT:
            return (f"{label} took too long to respond, so the reply was stopped. Any text that arrived is "
                    "kept; try again in a moment.")
        case FailureKind.AUTH:
            return (f"{label} refused the API key this Workbench uses, or the key may not use {model}. "
                    "Ask whoever runs this Workbench to check the key.")
        case FailureKind.RATE_LIMITED:
            return f"{label} is receiving too many requests right now. {_wait(retry_after)}"
        case FailureKind.QUOTA:
            return (f"{label} says the account has run out of credit or quota. Ask whoever runs this "
                    "Workbench to check the account's billing.")
        case FailureKind.MODEL_NOT_FOUND:
            return f"{label} has no model called {model}, or this key may not use it. Pick another model."
        case FailureKind.CONTEXT_LENGTH:
            return (f"This conversation is too long for {model}. Branch from an earlier message, or pick a "
                    "model with a larger context window.")
        case FailureKind.CONTENT_FILTER:
            return f"{label} blocked this request with its content filter. Rephrase the message and try again."
        case FailureKind.BAD_REQUEST:
            return (f"{label} rejected the request. Try other settings (temperature, maximum length) or "
                    f"another model. {ask}")
        case FailureKind.SERVER_ERROR:
            return f"The model's server ({label}) had a problem; it may be busy. Try again in a moment."
        case FailureKind.INCOMPLETE:
            return (f"{label} broke off the reply before it was complete. The text that arrived is kept; "
                    "regenerate to try again.")
    return f"The model's server ({label}) returned an error. Try again in a moment. {ask}"


# A fault of this server, not the provider's: the log has the traceback.
INTERNAL_FAILURE = ("Something went wrong on this server while writing the reply. Try again; if it keeps "
                    "happening, ask whoever runs this Workbench to look at its log.")
