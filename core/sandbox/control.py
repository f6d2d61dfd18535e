"""Client for the sandbox's ``/_sandbox`` control API: the buyer, Seller Central, faults.

The control API moves money without a signature, so it answers only callers that know the
sandbox's *control secret*: 32 random bytes (hex) made once per sandbox state and kept beside
its state file, readable by its owner only (``<state>.control-secret``, mode 0600). A web page
or another user's process on the same machine cannot read the file, so it cannot drive the
sandbox; ``kanjo`` commands of the same data directory read it and send it in
:data:`SECRET_HEADER`.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from core.errors import BadInput, GatewayUnreachable, NotFound, UserError

SECRET_HEADER = "X-Kanjo-Sandbox-Secret"
SECRET_SUFFIX = ".control-secret"


def control_secret_path(state_path: Path) -> Path:
    """Where the control secret of the sandbox state in ``state_path`` is kept."""
    return state_path.with_name(state_path.name + SECRET_SUFFIX)


def read_control_secret(state_path: Path) -> str | None:
    """The control secret of the sandbox state in ``state_path``, or ``None`` when it has none yet."""
    try:
        text = control_secret_path(state_path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def ensure_control_secret(state_path: Path) -> str:
    """The control secret of the sandbox state in ``state_path``, made on first use.

    The file is created with ``O_CREAT | O_EXCL`` and mode 0600 in one step, so it is never
    readable by others, not even for a moment, and two processes starting together agree on
    one secret (the second reads what the first wrote).
    """
    path = control_secret_path(state_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        for _attempt in range(50):  # the other process may not have written it yet
            existing = read_control_secret(state_path)
            if existing:
                return existing
            time.sleep(0.02)
        raise UserError(f"サンドボックスの操作用シークレットのファイルが空です: {path}") from None
    try:
        os.write(fd, (secret + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return secret


class SandboxControl:
    def __init__(self, base_url: str, *, secret: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {SECRET_HEADER: secret} if secret else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None, **params: Any) -> Any:
        try:
            response = self._http.request(
                method, f"{self.base_url}/_sandbox/{path}", json=payload, params=params or None
            )
        except httpx.TransportError as exc:
            raise GatewayUnreachable(f"サンドボックス({self.base_url})に接続できませんでした。") from exc
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if response.status_code >= 400:
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            if response.status_code in (401, 403):
                raise UserError(
                    f"サンドボックス({self.base_url})が操作を受け付けませんでした: 操作用シークレットがないか、一致しません。"
                    "サンドボックスを起動したのと同じデータフォルダから実行してください。"
                )
            if response.status_code == 404:
                raise NotFound(f"サンドボックスに対象が見つかりません: {message}")
            if response.status_code == 400:
                raise BadInput(f"サンドボックスが受け付けませんでした: {message}")
            raise UserError(
                f"サンドボックスでエラーになりました({data.get('reasonCode', response.status_code)}): {message}"
            )
        return data

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def register_key(self, public_key_id: str, pem: str) -> None:
        self._call("POST", "keys", {"id": public_key_id, "pem": pem})

    def checkout(
        self,
        *,
        number: str,
        total: int,
        kind: str = "normal",
        instrument: str = "card",
        ordered_at: datetime | None = None,
        pending: bool = False,
        allow_overcharge: bool = True,
        phone: str | None = None,
        extended_expiry: bool = True,
    ) -> dict[str, Any]:
        """The buyer checks out; ``extended_expiry`` asks for the 13-month permission (R54)."""
        payload: dict[str, Any] = {
            "number": number,
            "total": total,
            "kind": kind,
            "instrument": instrument,
            "pending": pending,
            "allowOvercharge": allow_overcharge,
            "extendedExpiry": extended_expiry,
        }
        if ordered_at is not None:
            payload["orderedAt"] = ordered_at.isoformat()
        if phone is not None:
            payload["phone"] = phone
        result: dict[str, Any] = self._call("POST", "checkout", payload)
        return result

    def decline_next(
        self, number: str, kind: str, operation: str = "auth", *, charge_permission_id: str | None = None
    ) -> None:
        """``charge_permission_id`` names the permission directly (a generated subscription order's
        number is not the checkout's, issue 12)."""
        payload = {"kind": kind, "operation": operation}
        payload.update({"chargePermissionId": charge_permission_id} if charge_permission_id else {"number": number})
        self._call("POST", "buyer/decline-next", payload)

    def close_subscription(self, number: str, charge_permission_id: str | None = None) -> None:
        """The buyer ends the subscription at Amazon (Closed/BuyerCanceled, R59)."""
        payload = {"chargePermissionId": charge_permission_id} if charge_permission_id else {"number": number}
        self._call("POST", "buyer/close-subscription", payload)

    def fix_payment(self, number: str, *, charge_permission_id: str | None = None) -> None:
        payload = {"chargePermissionId": charge_permission_id} if charge_permission_id else {"number": number}
        self._call("POST", "buyer/fix-payment", payload)

    def seller_central(
        self, action: str, number: str, amount: int | None, charge_id: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"number": number}
        if amount is not None:
            payload["amount"] = amount
        if charge_id:
            payload["chargeId"] = charge_id
        result: dict[str, Any] = self._call("POST", f"seller-central/{action}", payload)
        return result

    def add_fault(self, kind: str, *, count: int = 1, rate: float | None = None, path: str = "", seed: int = 0) -> None:
        payload: dict[str, Any] = {"kind": kind, "count": count, "path": path, "seed": seed}
        if rate is not None:
            payload["rate"] = rate
        self._call("POST", "faults", payload)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def settings(self, **changes: float) -> dict[str, float]:
        result: dict[str, float] = self._call("POST", "settings", changes) if changes else self._call("GET", "settings")
        return result

    def options(self, **changes: str) -> dict[str, str]:
        """The sandbox's rule choices, e.g. ``one_time_closure='order-amount'``."""
        result: dict[str, str] = self._call("POST", "options", changes) if changes else self._call("GET", "options")
        return result

    def close_settlement(self) -> dict[str, Any]:
        """End the current settlement period now (issue 13); its report is then served."""
        result: dict[str, Any] = self._call("POST", "settlement/close")
        return result

    def notifications(self, after: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "notifications", after=after)["notifications"]
        return result

    def snapshot(self, number: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "snapshot", number=number)
        return result

    def checkouts(self) -> list[dict[str, Any]]:
        """Every checkout placed in the sandbox, oldest first (for ``sandbox shop-export``)."""
        result: list[dict[str, Any]] = self._call("GET", "checkouts")["checkouts"]
        return result

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "calls")["calls"]
        return result
