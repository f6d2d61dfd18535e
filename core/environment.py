"""Which Amazon Pay an order's Charge Permission lives in, and which one we are connected to.

Issue 11 item 8. Three environments never share an ID: Amazon's production (``live``),
Amazon's own sandbox reached with the shop's sandbox keys (``sandbox``) and the built-in
local sandbox used when no keys are set (``builtin``, core.gateway.open_gateway). Every order
records the one it came from (``orders.environment``, migration 0006); the rule that an order
is only ever sent to its own environment is ``core.payment_rules.environment_refusal``.

Pure: no I/O, no Qt.
"""

from __future__ import annotations

from typing import Final

from core.settings import AppSettings

LIVE: Final = "live"
SANDBOX: Final = "sandbox"
BUILTIN: Final = "builtin"
# An order with no Charge Permission (paid otherwise, a marketplace order, 未連携) lives in no
# Amazon Pay: nothing of it is ever sent, it is never greyed as another environment's, and going
# live never removes it as a sandbox order. Linking it records the connection's environment.
NO_ENVIRONMENT: Final = ""
ENVIRONMENTS: Final = (LIVE, SANDBOX, BUILTIN)

# How an environment is named to the operator (list tag, detail panel, messages).
LABELS: Final[dict[str, str]] = {
    LIVE: "本番",
    SANDBOX: "サンドボックス",
    BUILTIN: "内蔵サンドボックス",
    NO_ENVIRONMENT: "なし",
}


def label(environment: str) -> str:
    return LABELS.get(environment, environment)


def connection_environment(settings: AppSettings) -> str:
    """The environment the connection for ``settings`` talks to.

    Without keys the product uses the built-in sandbox whatever ``amazon_environment`` says
    (core.gateway.open_gateway); with keys it is the saved ``amazon_environment``.
    """
    if not settings.has_amazon_credentials:
        return BUILTIN
    return LIVE if settings.amazon_environment == LIVE else SANDBOX


def is_test_environment(environment: str) -> bool:
    """Sandbox and built-in orders are test orders; going live offers to remove them."""
    return environment != LIVE
