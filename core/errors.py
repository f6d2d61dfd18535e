"""Error taxonomy.

A ``UserError`` is something the operator can understand and act on: bad input, a payment
rule that forbids the action, a refusal or failure of the gateway. It carries a Japanese
message for the window and the command line. Every other exception is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """An error shown to the operator as one Japanese sentence; nothing was changed."""

    code: str = "user_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class BadInput(UserError):
    """Input that cannot be understood (an amount, a date, a file)."""

    code = "bad_input"


class NotFound(UserError):
    """An order, charge or template that does not exist."""

    code = "not_found"


class RuleViolation(UserError):
    """A payment rule (R-number in domain.md) forbids the action."""

    code = "rule_violation"


class GatewayError(UserError):
    """The payment gateway refused or failed a request."""

    code = "gateway_error"


class GatewayUnreachable(GatewayError):
    """The gateway could not be reached; the request was certainly not processed."""

    code = "gateway_unreachable"


class GatewayOutcomeUnknown(GatewayError):
    """The request may or may not have been processed (timeout, dropped connection).

    The operation stays 結果不明 in the journal until a status read or a replay with the
    same idempotency key settles it.
    """

    code = "gateway_outcome_unknown"


STALE_EDIT_MESSAGE = "他の担当者が先に変更しました"


class StaleEdit(UserError):
    """Issue 14 item 2: an edit based on values another operator has changed since they were
    read (optimistic versions). Nothing was written; ``current`` holds the values as they are now."""

    code = "stale_edit"

    def __init__(self, current: str, *, current_values: dict[str, object] | None = None) -> None:
        super().__init__(f"{STALE_EDIT_MESSAGE}。現在の内容: {current} もう一度読み込んでから変更してください。")
        self.current_values = dict(current_values or {})
