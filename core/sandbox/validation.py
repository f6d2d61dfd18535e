"""Request-body checks the sandbox makes the way Amazon does (amazonpay-api.md §2, §3, §5).

Amazon refuses a body field it does not know with 400 ``UnrecognizedField`` instead of
ignoring it, so a misspelt field (``captureNOw``) cannot silently change what a call does.
The fields per operation are those of the official SDKs' request classes (§2). The checks
live here, called by the backend's operations, so the HTTP layer (server.py) stays about
HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.sandbox.errors import ApiFailure

SOFT_DESCRIPTOR_MAX = 16  # §3: fixed "AMZ* <store>" descriptor, at most 16 characters

_MONEY: Final = frozenset({"amount", "currencyCode"})
_MERCHANT_METADATA: Final = frozenset({"merchantReferenceId", "merchantStoreName", "noteToBuyer", "customInformation"})
_PROVIDER_METADATA: Final = frozenset({"providerReferenceId"})
_RECURRING_METADATA: Final = frozenset({"frequency", "amount"})
_FREQUENCY: Final = frozenset({"unit", "value"})

# operation → {field: allowed sub-fields (None: a scalar)}
_FIELDS: Final[dict[str, dict[str, frozenset[str] | None]]] = {
    "create_charge": {
        "chargePermissionId": None,
        "chargeAmount": _MONEY,
        "captureNow": None,
        "canHandlePendingAuthorization": None,
        "softDescriptor": None,
        "merchantMetadata": _MERCHANT_METADATA,
        "providerMetadata": _PROVIDER_METADATA,
        "platformId": None,
        "chargeInitiator": None,
        "channel": None,
    },
    "capture_charge": {"captureAmount": _MONEY, "softDescriptor": None},
    "cancel_charge": {"cancellationReason": None},
    "create_refund": {"chargeId": None, "refundAmount": _MONEY, "softDescriptor": None},
    "update_charge_permission": {"merchantMetadata": _MERCHANT_METADATA, "recurringMetadata": _RECURRING_METADATA},
    "close_charge_permission": {"closureReason": None, "cancelPendingCharges": None},
}


def _unrecognized(name: str) -> ApiFailure:
    return ApiFailure(400, "UnrecognizedField", f"The field {name} is not recognized.")


def check_fields(operation: str, body: Mapping[str, Any]) -> None:
    """Refuse a field the operation does not know (400 ``UnrecognizedField``), nested ones too."""
    allowed = _FIELDS[operation]
    for name, value in body.items():
        if name not in allowed:
            raise _unrecognized(name)
        children = allowed[name]
        if children is None or not isinstance(value, Mapping):
            continue
        for child, inner in value.items():
            if child not in children:
                raise _unrecognized(f"{name}.{child}")
            if name == "recurringMetadata" and child == "frequency" and isinstance(inner, Mapping):
                for leaf in inner:
                    if leaf not in _FREQUENCY:
                        raise _unrecognized(f"{name}.{child}.{leaf}")
                continue
            if name == "recurringMetadata" and child == "amount" and isinstance(inner, Mapping):
                for leaf in inner:
                    if leaf not in _MONEY:
                        raise _unrecognized(f"{name}.{child}.{leaf}")


def soft_descriptor(body: Mapping[str, Any]) -> str | None:
    """The request's ``softDescriptor``: a string of at most 16 characters, or absent (§3)."""
    value = body.get("softDescriptor")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > SOFT_DESCRIPTOR_MAX:
        raise ApiFailure(
            400,
            "InvalidParameterValue",
            f"The value provided for softDescriptor is invalid: at most {SOFT_DESCRIPTOR_MAX} characters.",
        )
    return value


def flag(body: Mapping[str, Any], name: str) -> bool:
    """A boolean field; anything but true/false/absent is refused."""
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiFailure(400, "InvalidParameterValue", f"The value provided for {name} is invalid.")
    return value
