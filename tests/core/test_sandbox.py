"""Tests for the local Amazon Pay sandbox (core.sandbox): state machines, limits, faults.

Everything is driven over real HTTP on loopback: the product's signing ``AmazonPayClient``
talks to a ``SandboxServer`` over a ``SandboxBackend`` on a SQLite file, and the buyer,
Seller Central and faults go through ``SandboxControl``. Time is a ``FixedClock`` that the
tests advance; the sandbox applies time-driven transitions lazily on the next read.

Rules: amazonpay-api.md §1–§5, domain.md R4, R5, R9, R52–R56.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from core.amazonpay.client import AmazonPayClient, ApiRequest, Credentials, new_idempotency_key
from core.amazonpay.errors import (
    AmazonPayError,
    AuthenticationError,
    DeclinedError,
    InvalidStateError,
    LimitExceededError,
    RequestRejectedError,
    ResourceNotFoundError,
    ServiceError,
    ThrottledError,
)
from core.amazonpay.models import ChargeInfo
from core.amazonpay.signing import (
    ALGORITHM_V1,
    ALGORITHM_V2,
    format_amz_date,
    generate_key_pair,
    load_private_key,
    sign_request,
)
from core.clock import JST, FixedClock, add_months
from core.errors import BadInput, GatewayOutcomeUnknown, NotFound, UserError
from core.sandbox.backend import R4_ADDRESS_MESSAGE, SandboxBackend
from core.sandbox.control import SandboxControl
from core.sandbox.server import SandboxServer

KEY_ID = "SANDBOX-KANJO-TEST"
PLAIN_KEY_ID = "AHKANJOTESTKEY"  # not environment-specific: the client uses /sandbox/v2


# --- fixtures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    private_key: RSAPrivateKey
    public_pem: str


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    private_pem, public_pem = generate_key_pair()
    return KeyPair(load_private_key(private_pem), public_pem.decode("ascii"))


@dataclass
class Sandbox:
    backend: SandboxBackend
    server: SandboxServer
    control: SandboxControl
    clock: FixedClock
    keys: KeyPair
    client: AmazonPayClient = field(init=False)
    _clients: list[AmazonPayClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = self.new_client()

    @property
    def url(self) -> str:
        return self.server.url

    def new_client(
        self,
        *,
        key_id: str = KEY_ID,
        private_key: RSAPrivateKey | None = None,
        clock: FixedClock | None = None,
        algorithm: str = ALGORITHM_V2,
        timeout: float = 5.0,
    ) -> AmazonPayClient:
        client = AmazonPayClient(
            Credentials(key_id, private_key or self.keys.private_key, environment="sandbox", algorithm=algorithm),
            base_url=self.url,
            clock=clock or self.clock,
            timeout=timeout,
            retry_delays=(),
            sleep=_no_sleep,
        )
        self._clients.append(client)
        return client

    def checkout(self, number: str, total: int = 10_000, **options: Any) -> tuple[str, str]:
        placed = self.control.checkout(number=number, total=total, **options)
        return placed["chargePermissionId"], placed["chargeId"]

    def charge(self, cp_id: str, amount: int, **options: Any) -> ChargeInfo:
        return self.client.create_charge(cp_id, amount, idempotency_key=new_idempotency_key(), **options)

    def capture(self, charge_id: str, amount: int) -> ChargeInfo:
        return self.client.capture_charge(charge_id, amount, idempotency_key=new_idempotency_key())

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.control.close()
        stop_server(self.server)


def start_server(backend: SandboxBackend) -> SandboxServer:
    server = SandboxServer(backend)
    return server.start()


def stop_server(server: SandboxServer) -> None:
    """``server.stop()`` without waiting out ``serve_forever``'s 0.5 s poll: a connection wakes it."""
    address = urlsplit(server.url)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((address.hostname, address.port), timeout=0.2).close()
        stopper.join(0.02)


def _no_sleep(_seconds: float) -> None:
    raise AssertionError("the sandbox tests use no retries")


@pytest.fixture
def make_sandbox(state_dir: Path, clock: FixedClock, keys: KeyPair) -> Iterator[Callable[..., Sandbox]]:
    made: list[Sandbox] = []

    def make(name: str = "sandbox", clock_: FixedClock | None = None) -> Sandbox:
        backend = SandboxBackend(state_dir / f"{name}.sqlite3", clock_ or clock)
        backend.register_public_key(KEY_ID, keys.public_pem)
        backend.register_public_key(PLAIN_KEY_ID, keys.public_pem)
        server = start_server(backend)
        control = SandboxControl(server.url, secret=server.secret, timeout=10.0)
        sandbox = Sandbox(backend, server, control, clock_ or clock, keys)
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def sb(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


def amz(moment: datetime) -> str:
    return format_amz_date(moment)


def snapshot_charges(sb: Sandbox, number: str) -> list[dict[str, Any]]:
    charges: list[dict[str, Any]] = sb.control.snapshot(number)["charges"]
    return charges


def state(data: dict[str, Any]) -> tuple[str, str | None]:
    details = data["statusDetails"]
    if "reasons" in details:
        reasons = details["reasons"]
        return details["state"], reasons[0]["reasonCode"] if reasons else None
    return details["state"], details["reasonCode"]


# --- checkout (the buyer) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "limit"),
    [(5_000, 70_000), (7_777, 70_000), (7_778, 70_002), (10_000, 90_000), (10_000_000, 90_000_000)],
)
def test_checkout_creates_chargeable_one_time_cp_and_authorized_charge(sb: Sandbox, total: int, limit: int) -> None:
    now = sb.clock.now()
    cp_id, charge_id = sb.checkout("1001", total)

    cp = sb.client.get_charge_permission(cp_id)
    assert cp.type == "OneTime"
    assert (cp.status.state, cp.status.reason_code) == ("Chargeable", None)
    assert cp.amount_limit == limit  # max(9 × total, 70,000) with the overcharge option
    assert cp.amount_balance == limit - total
    assert cp.created_at == now
    assert cp.expires_at == add_months(now, 13) == datetime(2027, 12, 21, 3, 0, tzinfo=UTC)
    assert cp.merchant_reference_id == "1001"
    assert cp.buyer is not None and cp.buyer.name and cp.buyer.email
    assert cp.shipping_address is not None and cp.shipping_address.postal_code
    assert sum(ch.isdigit() for ch in cp.buyer.phone) >= 10
    assert cp.payment_descriptor == "Visa ****1111"
    assert cp.raw["releaseEnvironment"] == "Sandbox"
    assert cp.raw["presentmentCurrency"] == "JPY"

    charge = sb.client.get_charge(charge_id)
    assert charge.charge_permission_id == cp_id
    assert charge_id.startswith(cp_id + "-C")
    assert (charge.status.state, charge.status.reason_code) == ("Authorized", None)
    assert charge.amount == total
    assert charge.captured_amount == 0
    assert charge.refunded_amount == 0
    assert charge.created_at == now
    assert charge.expires_at == now + timedelta(days=30)


def test_checkout_without_overcharge_option_limits_charges_to_the_order_amount(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1002", 10_000, allow_overcharge=False)
    cp = sb.client.get_charge_permission(cp_id)
    # limits are filled for every one-time permission: without overcharge the limit is the order.
    assert (cp.amount_limit, cp.amount_balance) == (10_000, 0)
    with pytest.raises(LimitExceededError) as info:
        sb.charge(cp_id, 1)
    assert info.value.reason_code == "TransactionAmountExceeded"


@pytest.mark.parametrize(
    ("instrument", "descriptor"),
    [("card", "Visa ****1111"), ("gift", "Amazonギフト券"), ("gift+card", "Amazonギフト券, Visa ****1111")],
)
def test_checkout_payment_descriptor_follows_the_instrument(sb: Sandbox, instrument: str, descriptor: str) -> None:
    cp_id, _ = sb.checkout("1003", 3_000, instrument=instrument)
    assert sb.client.get_charge_permission(cp_id).payment_descriptor == descriptor


def test_subscription_checkout_creates_a_recurring_cp(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1004", 3_000, kind="subscription")
    cp = sb.client.get_charge_permission(cp_id)
    assert cp.type == "Recurring"
    assert cp.status.state == "Chargeable"
    # The monthly limit (R53) is the permission's limit; the balance is what is left this month.
    assert (cp.amount_limit, cp.amount_balance) == (100_000, 97_000)
    assert sb.client.get_charge(charge_id).status.state == "Authorized"


def test_reservation_checkout_is_one_time(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1005", 3_000, kind="reservation")
    assert sb.client.get_charge_permission(cp_id).type == "OneTime"


def test_pending_checkout_settles_to_authorized_after_auth_settle_seconds(sb: Sandbox) -> None:
    sb.control.settings(auth_settle_seconds=120)
    _, charge_id = sb.checkout("1006", 8_000, pending=True)
    assert sb.client.get_charge(charge_id).status.state == "AuthorizationInitiated"
    with pytest.raises(InvalidStateError) as info:
        sb.capture(charge_id, 8_000)
    assert info.value.reason_code == "InvalidChargeStatus"

    sb.advance(seconds=119)
    assert sb.client.get_charge(charge_id).status.state == "AuthorizationInitiated"
    sb.advance(seconds=1)
    charge = sb.client.get_charge(charge_id)
    assert charge.status.state == "Authorized"
    assert charge.status.last_updated == sb.clock.now()
    assert sb.capture(charge_id, 8_000).status.state == "Captured"


def test_pending_charge_can_be_canceled_before_it_settles(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1007", 8_000, pending=True)
    canceled = sb.client.cancel_charge(charge_id, "在庫切れ")
    assert (canceled.status.state, canceled.status.reason_code) == ("Canceled", "MerchantCanceled")
    sb.advance(seconds=60)
    assert sb.client.get_charge(charge_id).status.state == "Canceled"  # never settles afterwards


def test_checkout_of_the_r5_maximum_is_accepted_and_one_yen_more_refused(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1008", 10_000_000)
    assert sb.client.get_charge(charge_id).amount == 10_000_000
    with pytest.raises(BadInput):
        sb.checkout("1009", 10_000_001)
    with pytest.raises(NotFound):
        sb.control.snapshot("1009")  # nothing was created
    with pytest.raises(BadInput):
        sb.checkout("1010", 0)


def test_checkout_with_a_short_phone_number_is_refused_with_the_r4_message(sb: Sandbox) -> None:
    with pytest.raises(BadInput) as info:
        sb.checkout("1011", 5_000, phone="090-123-456")  # nine digits
    assert R4_ADDRESS_MESSAGE in info.value.message
    assert R4_ADDRESS_MESSAGE == "ご指定のお届け先は利用できません。別のお届け先を選択してください"
    with pytest.raises(NotFound):
        sb.control.snapshot("1011")

    cp_id, _ = sb.checkout("1012", 5_000, phone="090-1234-5678")
    cp = sb.client.get_charge_permission(cp_id)
    assert cp.buyer is not None and cp.buyer.phone == "090-1234-5678"


def test_an_order_number_checks_out_only_once(sb: Sandbox) -> None:
    sb.checkout("1013", 5_000)
    with pytest.raises(BadInput):
        sb.checkout("1013", 5_000)


def test_checkout_with_a_past_order_time_dates_the_authorization_from_it(sb: Sandbox) -> None:
    ordered_at = sb.clock.now() - timedelta(days=29)
    _, charge_id = sb.checkout("1014", 5_000, ordered_at=ordered_at)
    charge = sb.client.get_charge(charge_id)
    assert charge.created_at == ordered_at
    assert charge.expires_at == ordered_at + timedelta(days=30)
    sb.advance(days=1)
    assert sb.client.get_charge(charge_id).status.reason_code == "ExpiredUnused"


# --- R9: authorization expiry -------------------------------------------------------------


def test_authorization_can_be_captured_until_one_second_before_30_days(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1101", 5_000)
    sb.advance(days=30, seconds=-1)
    assert sb.client.get_charge(charge_id).status.state == "Authorized"
    captured = sb.capture(charge_id, 5_000)
    assert captured.status.state in ("CaptureInitiated", "Captured")


def test_authorization_expires_after_30_days_and_cannot_be_captured(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1102", 5_000)
    last_id = sb.control.notifications(0)[-1]["id"]
    sb.advance(days=30)

    charge = sb.client.get_charge(charge_id)
    assert (charge.status.state, charge.status.reason_code) == ("Canceled", "ExpiredUnused")
    assert charge.status.last_updated == sb.clock.now()
    assert [(n["ObjectType"], n["ObjectId"]) for n in sb.control.notifications(last_id)] == [("CHARGE", charge_id)]

    with pytest.raises(InvalidStateError) as info:
        sb.capture(charge_id, 5_000)
    assert info.value.reason_code == "InvalidChargeStatus"
    with pytest.raises(InvalidStateError):
        sb.client.cancel_charge(charge_id, "期限切れ")

    # R9/R40: re-authorize with a new Charge on the same Charge Permission.
    fresh = sb.charge(cp_id, 5_000)
    assert fresh.status.state == "Authorized"
    assert fresh.expires_at == sb.clock.now() + timedelta(days=30)


def test_reauthorization_after_expiry_is_not_blocked_by_the_unread_expired_authorization(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1103", 10_000, allow_overcharge=False)
    sb.advance(days=31)  # the old authorization is ExpiredUnused, nobody has read it yet
    assert sb.charge(cp_id, 10_000).status.state == "Authorized"


def test_expired_authorization_no_longer_counts_against_the_limit_once_read(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1104", 10_000, allow_overcharge=False)
    sb.advance(days=31)
    assert sb.client.get_charge(charge_id).status.reason_code == "ExpiredUnused"
    assert sb.charge(cp_id, 10_000).status.state == "Authorized"


# --- capture (R55) -------------------------------------------------------------------------


@pytest.mark.parametrize("after", [timedelta(0), timedelta(days=3), timedelta(days=7)])
def test_capture_within_7_days_is_captured_at_once(sb: Sandbox, after: timedelta) -> None:
    cp_id, charge_id = sb.checkout("1201", 5_000)
    sb.clock.advance(after)
    captured = sb.capture(charge_id, 5_000)
    assert (captured.status.state, captured.captured_amount) == ("Captured", 5_000)
    assert captured.status.last_updated == sb.clock.now()
    assert sb.client.get_charge(charge_id).status.state == "Captured"
    assert sb.client.get_charge_permission(cp_id).amount_balance == 70_000 - 5_000


def test_capture_after_7_days_is_capture_initiated_until_it_settles(sb: Sandbox) -> None:
    sb.control.settings(capture_settle_seconds=600)
    _, charge_id = sb.checkout("1202", 5_000)
    sb.advance(days=7, seconds=1)

    initiated = sb.capture(charge_id, 5_000)
    assert initiated.status.state == "CaptureInitiated"
    assert initiated.captured_amount == 5_000  # captureAmount is what was asked for, while in progress
    # Nothing but reading is allowed while the capture is in progress (§2).
    with pytest.raises(InvalidStateError):
        sb.client.cancel_charge(charge_id, "取消")
    with pytest.raises(InvalidStateError):
        sb.capture(charge_id, 5_000)
    with pytest.raises(InvalidStateError):
        sb.client.create_refund(charge_id, 1_000, idempotency_key=new_idempotency_key())

    sb.advance(seconds=599)
    assert sb.client.get_charge(charge_id).status.state == "CaptureInitiated"
    sb.advance(seconds=1)
    charge = sb.client.get_charge(charge_id)
    assert (charge.status.state, charge.captured_amount) == ("Captured", 5_000)

    # Settling after the authorization's 30 days does not expire a capture in progress.
    _, other_id = sb.checkout("1203", 5_000)
    sb.advance(days=7, seconds=1)
    assert sb.capture(other_id, 5_000).status.state == "CaptureInitiated"
    sb.advance(days=30)
    assert sb.client.get_charge(other_id).status.state == "Captured"


def test_partial_capture(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1204", 5_000)
    captured = sb.capture(charge_id, 3_000)
    assert (captured.status.state, captured.captured_amount) == ("Captured", 3_000)


def test_capture_above_the_charge_amount_is_refused(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1205", 5_000)
    with pytest.raises(RequestRejectedError) as info:
        sb.capture(charge_id, 5_001)
    assert (info.value.http_status, info.value.reason_code) == (400, "InvalidParameterValue")
    assert sb.client.get_charge(charge_id).status.state == "Authorized"


def test_a_captured_charge_cannot_be_captured_again(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1206", 5_000)
    sb.capture(charge_id, 5_000)
    with pytest.raises(InvalidStateError) as info:
        sb.capture(charge_id, 5_000)
    assert info.value.reason_code == "InvalidChargeStatus"


@pytest.mark.parametrize(("kind", "reason"), [("soft", "SoftDeclined"), ("hard", "HardDeclined")])
def test_capture_decline_leaves_the_charge_declined(sb: Sandbox, kind: str, reason: str) -> None:
    cp_id, charge_id = sb.checkout("1207", 5_000)
    sb.control.decline_next("1207", kind, "capture")
    declined = sb.capture(charge_id, 5_000)
    assert (declined.status.state, declined.status.reason_code) == ("Declined", reason)
    assert declined.captured_amount == 0
    assert sb.client.get_charge(charge_id).status.state == "Declined"
    # The decline was used up: a new authorization captures normally.
    fresh = sb.charge(cp_id, 5_000)
    assert sb.capture(fresh.id, 5_000).status.state == "Captured"


def test_capture_of_an_unknown_charge_is_not_found(sb: Sandbox) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        sb.capture("S03-0000000-0000000-C000001", 1_000)
    assert info.value.http_status == 404


# --- create charge: declines and limits (R52, R53, R56) -------------------------------------


def test_soft_decline_refuses_the_charge_but_leaves_the_cp_chargeable(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1301", 5_000)
    sb.control.decline_next("1301", "soft")
    with pytest.raises(DeclinedError) as info:
        sb.charge(cp_id, 5_000)
    assert (info.value.http_status, info.value.reason_code) == (400, "SoftDeclined")
    assert info.value.retry_may_succeed
    assert len(snapshot_charges(sb, "1301")) == 1  # a declined authorization creates no Charge
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    assert sb.charge(cp_id, 5_000).status.state == "Authorized"  # the retry succeeds


def test_hard_decline_makes_the_cp_non_chargeable_until_the_buyer_fixes_payment(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1302", 5_000)
    sb.control.decline_next("1302", "hard")
    with pytest.raises(DeclinedError) as info:
        sb.charge(cp_id, 5_000)
    assert info.value.reason_code == "HardDeclined"
    assert info.value.buyer_must_change_method

    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.status.state, cp.status.reason_code) == ("NonChargeable", "PaymentMethodInvalid")
    for _ in range(2):
        with pytest.raises(InvalidStateError) as refused:
            sb.charge(cp_id, 5_000)
        assert refused.value.reason_code == "InvalidChargePermissionStatus"

    sb.control.fix_payment("1302")
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    assert sb.charge(cp_id, 5_000).status.state == "Authorized"


def test_declines_queue_in_order(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1303", 5_000)
    sb.control.decline_next("1303", "soft")
    sb.control.decline_next("1303", "soft")
    for _ in range(2):
        with pytest.raises(DeclinedError):
            sb.charge(cp_id, 1_000)
    assert sb.charge(cp_id, 1_000).status.state == "Authorized"


def test_fix_payment_also_drops_queued_declines(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1304", 5_000)
    sb.control.decline_next("1304", "soft")
    sb.control.fix_payment("1304")
    assert sb.charge(cp_id, 1_000).status.state == "Authorized"


def test_decline_next_validates_its_arguments(sb: Sandbox) -> None:
    sb.checkout("1305", 5_000)
    with pytest.raises(BadInput):
        sb.control.decline_next("1305", "medium")
    with pytest.raises(BadInput):
        sb.control.decline_next("1305", "soft", "close")
    with pytest.raises(NotFound):
        sb.control.decline_next("no-such-order", "soft")


def test_charges_above_the_amount_limit_are_refused(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1306", 10_000)  # amountLimit 90,000; 10,000 authorized
    with pytest.raises(LimitExceededError) as info:
        sb.charge(cp_id, 80_001)
    assert (info.value.http_status, info.value.reason_code) == (400, "TransactionAmountExceeded")

    assert sb.charge(cp_id, 80_000).status.state == "Authorized"
    assert sb.client.get_charge_permission(cp_id).amount_balance == 0
    with pytest.raises(LimitExceededError):
        sb.charge(cp_id, 1)
    # A canceled authorization frees its amount again.
    sb.client.cancel_charge(charge_id, "減額")
    assert sb.charge(cp_id, 10_000).status.state == "Authorized"


def test_the_26th_charge_on_a_one_time_cp_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1307", 1_000)  # the checkout's authorization is charge 1
    for _ in range(24):
        sb.charge(cp_id, 100)
    assert len(snapshot_charges(sb, "1307")) == 25
    with pytest.raises(LimitExceededError) as info:
        sb.charge(cp_id, 100)
    assert info.value.reason_code == "TransactionCountExceeded"
    assert len(snapshot_charges(sb, "1307")) == 25


def test_recurring_cp_allows_100000_yen_per_calendar_month_in_japan_time(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1308", 60_000, kind="subscription")  # 2026-11-21 12:00 JST
    assert sb.charge(cp_id, 40_000).status.state == "Authorized"  # exactly 100,000 this month
    with pytest.raises(LimitExceededError) as info:
        sb.charge(cp_id, 1)
    assert (info.value.http_status, info.value.reason_code) == (400, "PeriodicAmountExceeded")

    sb.clock.set(datetime(2026, 11, 30, 23, 59, 59, tzinfo=JST))
    with pytest.raises(LimitExceededError):
        sb.charge(cp_id, 1)
    sb.clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=JST))  # 2026-11-30 15:00 UTC: a new month in Japan
    assert sb.charge(cp_id, 100_000).status.state == "Authorized"
    with pytest.raises(LimitExceededError) as again:
        sb.charge(cp_id, 1)
    assert again.value.reason_code == "PeriodicAmountExceeded"


def test_recurring_cp_monthly_sum_ignores_canceled_charges(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1309", 60_000, kind="subscription")
    sb.client.cancel_charge(charge_id, "取消")
    assert sb.charge(cp_id, 100_000).status.state == "Authorized"


def test_charge_in_another_currency_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1310", 5_000)
    body = {"chargePermissionId": cp_id, "chargeAmount": {"amount": "10", "currencyCode": "USD"}}
    with pytest.raises(RequestRejectedError) as info:
        sb.client.send(ApiRequest("POST", "/charges", body, new_idempotency_key()))
    assert (info.value.http_status, info.value.reason_code) == (400, "CurrencyMismatch")


@pytest.mark.parametrize("amount", ["1000.5", "0.5", "0", "-1", "1e3", "", "abc", "10000001"])
def test_charge_amounts_that_are_not_whole_positive_yen_up_to_ten_million_are_refused(sb: Sandbox, amount: str) -> None:
    cp_id, _ = sb.checkout("1311", 10_000_000)  # amountLimit 90,000,000: only R5 can refuse 10,000,001
    body = {"chargePermissionId": cp_id, "chargeAmount": {"amount": amount, "currencyCode": "JPY"}}
    with pytest.raises(RequestRejectedError) as info:
        sb.client.send(ApiRequest("POST", "/charges", body, new_idempotency_key()))
    assert (info.value.http_status, info.value.reason_code) == (400, "InvalidParameterValue")
    assert len(snapshot_charges(sb, "1311")) == 1


def test_charge_without_cp_or_amount_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1312", 5_000)
    for body in ({"chargeAmount": {"amount": "100", "currencyCode": "JPY"}}, {"chargePermissionId": cp_id}):
        with pytest.raises(RequestRejectedError) as info:
            sb.client.send(ApiRequest("POST", "/charges", body, new_idempotency_key()))
        assert info.value.reason_code == "MissingParameterValue"


def test_charge_on_an_unknown_cp_is_not_found(sb: Sandbox) -> None:
    with pytest.raises(ResourceNotFoundError):
        sb.charge("S03-0000000-0000000", 1_000)


def test_charge_with_capture_now_is_captured_at_once(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1313", 5_000)
    charge = sb.charge(cp_id, 2_000, capture_now=True)
    assert (charge.status.state, charge.captured_amount) == ("Captured", 2_000)


def test_charge_on_a_closed_cp_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1314", 5_000)
    sb.client.close_charge_permission(cp_id, "注文完了")
    with pytest.raises(InvalidStateError) as info:
        sb.charge(cp_id, 1_000)
    assert info.value.reason_code == "InvalidChargePermissionStatus"


# --- cancel, close, expiry ------------------------------------------------------------------


def test_cancel_an_authorized_charge(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1401", 5_000)
    canceled = sb.client.cancel_charge(charge_id, "在庫切れ")
    assert (canceled.status.state, canceled.status.reason_code) == ("Canceled", "MerchantCanceled")
    assert sb.client.get_charge(charge_id).status.state == "Canceled"
    with pytest.raises(InvalidStateError):
        sb.client.cancel_charge(charge_id, "二度目")
    with pytest.raises(InvalidStateError):
        sb.capture(charge_id, 5_000)
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"


def test_cancel_is_refused_after_capture(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1402", 5_000)
    sb.capture(charge_id, 5_000)
    with pytest.raises(InvalidStateError) as info:
        sb.client.cancel_charge(charge_id, "取消")
    assert (info.value.reason_code, info.value.http_status) == ("InvalidChargeStatus", 422)
    assert sb.client.get_charge(charge_id).status.state == "Captured"


def test_close_cp_with_cancel_pending_charges_cancels_open_charges(sb: Sandbox) -> None:
    cp_id, first_id = sb.checkout("1403", 10_000)
    sb.capture(first_id, 10_000)
    open_id = sb.charge(cp_id, 3_000).id

    cp = sb.client.close_charge_permission(cp_id, "注文取消", cancel_pending_charges=True)
    assert (cp.status.state, cp.status.reason_code) == ("Closed", "MerchantClosed")
    charge = sb.client.get_charge(open_id)
    assert (charge.status.state, charge.status.reason_code) == ("Canceled", "ChargePermissionCanceled")
    assert sb.client.get_charge(first_id).status.state == "Captured"  # a capture is not undone


def test_close_cp_without_cancel_pending_charges_keeps_open_charges(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1404", 5_000)
    cp = sb.client.close_charge_permission(cp_id, "注文完了")
    assert cp.status.state == "Closed"
    assert sb.client.get_charge(charge_id).status.state == "Authorized"
    # Closing twice is refused (Close has no idempotency key; the caller reads the permission),
    # and the first reason stays.
    with pytest.raises(InvalidStateError) as info:
        sb.client.close_charge_permission(cp_id, "もう一度")
    assert (info.value.http_status, info.value.reason_code) == (422, "InvalidChargePermissionStatus")
    again = sb.client.get_charge_permission(cp_id)
    assert (again.status.state, again.status.reason_code) == ("Closed", "MerchantClosed")


def test_cp_expires_13_months_after_checkout(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1405", 5_000)
    expires = add_months(sb.clock.now(), 13)
    sb.clock.set(expires - timedelta(seconds=1))
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    sb.clock.set(expires)
    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.status.state, cp.status.reason_code) == ("Closed", "Expired")
    with pytest.raises(InvalidStateError) as info:
        sb.charge(cp_id, 1_000)
    assert info.value.reason_code == "InvalidChargePermissionStatus"


def test_update_charge_permission_sets_the_merchant_reference(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1406", 5_000)
    cp = sb.client.update_charge_permission(cp_id, {"merchantReferenceId": "K-1406"})
    assert cp.merchant_reference_id == "K-1406"
    assert sb.client.get_charge_permission(cp_id).merchant_reference_id == "K-1406"


# --- closer to Amazon: lifetimes, limits, closure (issue 10 item 13; R13, R14, R39, R52–R54) ----


@pytest.mark.parametrize(
    ("extended", "lifetime"),
    [(False, lambda at: at + timedelta(days=180)), (True, lambda at: add_months(at, 13))],
)
def test_one_time_cp_lives_180_days_unless_the_checkout_asked_for_the_extension_r54(
    sb: Sandbox, extended: bool, lifetime: Callable[[datetime], datetime]
) -> None:
    cp_id, _ = sb.checkout("1701", 5_000, extended_expiry=extended)
    expires = lifetime(sb.clock.now())
    assert sb.client.get_charge_permission(cp_id).expires_at == expires
    sb.clock.set(expires - timedelta(seconds=1))
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    sb.clock.set(expires)
    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.status.state, cp.status.reason_code) == ("Closed", "Expired")


def test_the_extension_choice_does_not_shorten_a_recurring_cp(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1702", 3_000, kind="subscription", extended_expiry=False)
    assert sb.client.get_charge_permission(cp_id).expires_at == add_months(sb.clock.now(), 13)


def test_an_authorization_on_a_recurring_cp_extends_it_to_13_months_from_then_r14(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1703", 3_000, kind="subscription")
    sb.advance(days=40)
    sb.charge(cp_id, 3_000)
    assert sb.client.get_charge_permission(cp_id).expires_at == add_months(sb.clock.now(), 13)
    # A declined authorization extends nothing.
    before = sb.client.get_charge_permission(cp_id).expires_at
    sb.advance(days=40)
    sb.control.decline_next("1703", "soft")
    with pytest.raises(DeclinedError):
        sb.charge(cp_id, 3_000)
    assert sb.client.get_charge_permission(cp_id).expires_at == before


def test_recurring_cp_balance_is_this_months_rest_r53(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1704", 30_000, kind="subscription")
    sb.charge(cp_id, 20_000)
    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.amount_limit, cp.amount_balance) == (100_000, 50_000)
    sb.clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=JST))  # a new month in Japan
    assert sb.client.get_charge_permission(cp_id).amount_balance == 100_000


def test_one_time_cp_without_overcharge_closes_once_the_order_is_captured(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1705", 5_000, allow_overcharge=False)
    sb.capture(charge_id, 5_000)
    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.status.state, cp.status.reason_code) == ("Closed", "AmazonClosed")
    assert any(
        n["ObjectType"] == "CHARGE_PERMISSION" and n["ObjectId"] == cp_id for n in sb.control.notifications(0)[1:]
    )


def test_one_time_cp_with_overcharge_stays_open_for_r39_until_the_limit_is_captured(sb: Sandbox) -> None:
    """R39: Seller Central adds a charge after the capture, so the permission must stay open;
    it closes when nothing more may be charged (captures reached amountLimit)."""
    cp_id, charge_id = sb.checkout("1706", 10_000)  # amountLimit 90,000
    sb.capture(charge_id, 10_000)
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    made = sb.control.seller_central("increase", "1706", 2_000)  # R39
    assert state(made) == ("Captured", None)
    sb.charge(cp_id, 78_000, capture_now=True)
    cp = sb.client.get_charge_permission(cp_id)
    assert (cp.status.state, cp.status.reason_code, cp.amount_balance) == ("Closed", "AmazonClosed", 0)


def test_a_capture_settling_later_closes_the_cp_when_it_completes_it(sb: Sandbox) -> None:
    sb.control.settings(capture_settle_seconds=600)
    cp_id, charge_id = sb.checkout("1707", 5_000, allow_overcharge=False)
    sb.advance(days=8)
    assert sb.capture(charge_id, 5_000).status.state == "CaptureInitiated"
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    sb.advance(seconds=600)
    assert sb.client.get_charge_permission(cp_id).status.state == "Closed"


def test_closure_rule_is_a_sandbox_option(sb: Sandbox) -> None:
    assert sb.control.options() == {"one_time_closure": "amount-limit"}
    # The onboarding pages' literal reading: closed once the order amount is captured (R39 then fails).
    assert sb.control.options(one_time_closure="order-amount") == {"one_time_closure": "order-amount"}
    cp_id, charge_id = sb.checkout("1708", 5_000)
    sb.capture(charge_id, 5_000)
    assert sb.client.get_charge_permission(cp_id).status.reason_code == "AmazonClosed"
    with pytest.raises(UserError, match="InvalidChargePermissionStatus"):
        sb.control.seller_central("increase", "1708", 1_000)
    # Never closing by itself.
    sb.control.options(one_time_closure="never")
    cp_id, charge_id = sb.checkout("1709", 5_000, allow_overcharge=False)
    sb.capture(charge_id, 5_000)
    assert sb.client.get_charge_permission(cp_id).status.state == "Chargeable"
    with pytest.raises(BadInput):
        sb.control.options(one_time_closure="sometimes")
    with pytest.raises(BadInput):
        sb.control.options(no_such_option="x")
    assert sb.control.options() == {"one_time_closure": "never"}


# --- closer to Amazon: request fields (issue 10 item 13; amazonpay-api.md §2, §3, §5) -----------


def _money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currencyCode": "JPY"}


def test_unknown_request_fields_are_refused_and_change_nothing(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1710", 5_000)
    refused = [
        ApiRequest(
            "POST",
            "/charges",
            {"chargePermissionId": cp_id, "chargeAmount": _money(100), "captureNOw": True},
            new_idempotency_key(),
        ),
        ApiRequest(
            "POST",
            "/charges",
            {"chargePermissionId": cp_id, "chargeAmount": {**_money(100), "tax": "10"}},
            new_idempotency_key(),
        ),
        ApiRequest(
            "POST",
            f"/charges/{charge_id}/capture",
            {"captureAmount": _money(5_000), "note": "x"},
            new_idempotency_key(),
        ),
        ApiRequest("DELETE", f"/charges/{charge_id}/cancel", {"cancellationReason": "x", "reason": "x"}),
        ApiRequest("DELETE", f"/chargePermissions/{cp_id}/close", {"closureReason": "x", "cancelPending": True}),
        ApiRequest("PATCH", f"/chargePermissions/{cp_id}", {"merchantMetadata": {"orderId": "1"}}),
    ]
    for request in refused:
        with pytest.raises(RequestRejectedError) as info:
            sb.client.send(request)
        assert (info.value.http_status, info.value.reason_code) == (400, "UnrecognizedField"), request
    snap = sb.control.snapshot("1710")
    assert [state(c) for c in snap["charges"]] == [("Authorized", None)]
    assert state(snap["chargePermission"]) == ("Chargeable", None)
    sb.capture(charge_id, 5_000)
    with pytest.raises(RequestRejectedError) as info:
        sb.client.send(
            ApiRequest(
                "POST", "/refunds", {"chargeId": charge_id, "refundAmount": _money(100), "x": 1}, new_idempotency_key()
            )
        )
    assert info.value.reason_code == "UnrecognizedField"
    assert sb.control.snapshot("1710")["refunds"] == []


def test_soft_descriptor_over_16_characters_is_refused_and_echoed_when_valid(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1711", 5_000)
    too_long = "A" * 17
    for request in (
        ApiRequest(
            "POST",
            "/charges",
            {"chargePermissionId": cp_id, "chargeAmount": _money(100), "captureNow": True, "softDescriptor": too_long},
            new_idempotency_key(),
        ),
        ApiRequest(
            "POST",
            f"/charges/{charge_id}/capture",
            {"captureAmount": _money(5_000), "softDescriptor": too_long},
            new_idempotency_key(),
        ),
    ):
        with pytest.raises(RequestRejectedError) as info:
            sb.client.send(request)
        assert (info.value.http_status, info.value.reason_code) == (400, "InvalidParameterValue")
    assert sb.client.get_charge(charge_id).status.state == "Authorized"

    captured = sb.client.send(
        ApiRequest(
            "POST",
            f"/charges/{charge_id}/capture",
            {"captureAmount": _money(5_000), "softDescriptor": "KANJO SHOP 12345"},
            new_idempotency_key(),
        )
    ).data
    assert captured["softDescriptor"] == "KANJO SHOP 12345"
    assert sb.client.get_charge(charge_id).raw["softDescriptor"] == "KANJO SHOP 12345"
    made = sb.client.send(
        ApiRequest(
            "POST",
            "/charges",
            {"chargePermissionId": cp_id, "chargeAmount": _money(100), "captureNow": True, "softDescriptor": "追加"},
            new_idempotency_key(),
        )
    ).data
    assert made["softDescriptor"] == "追加"
    refund = sb.client.send(
        ApiRequest(
            "POST",
            "/refunds",
            {"chargeId": charge_id, "refundAmount": _money(100), "softDescriptor": "返金"},
            new_idempotency_key(),
        )
    ).data
    assert refund["softDescriptor"] == "返金"
    assert sb.client.get_refund(refund["refundId"]).raw["softDescriptor"] == "返金"


def test_capture_now_and_pending_choice_are_echoed(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1712", 5_000)
    assert sb.client.get_charge(charge_id).raw["captureNow"] is False
    now = sb.charge(cp_id, 100, capture_now=True)
    assert (now.raw["captureNow"], sb.client.get_charge(now.id).raw["captureNow"]) == (True, True)
    later = sb.charge(cp_id, 100, can_handle_pending_authorization=True)
    assert (later.raw["captureNow"], later.raw["canHandlePendingAuthorization"]) == (False, True)


# --- refunds -------------------------------------------------------------------------------


def refund(sb: Sandbox, charge_id: str, amount: int) -> Any:
    return sb.client.create_refund(charge_id, amount, idempotency_key=new_idempotency_key())


def test_refund_is_initiated_then_refunded_on_the_next_read(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1501", 5_000)
    sb.capture(charge_id, 5_000)
    created = refund(sb, charge_id, 2_000)
    assert created.id == f"{cp_id}-R000001"
    assert (created.status.state, created.amount, created.charge_id) == ("RefundInitiated", 2_000, charge_id)
    assert created.created_at == sb.clock.now()

    read = sb.client.get_refund(created.id)
    assert (read.status.state, read.status.reason_code) == ("Refunded", None)
    assert read.status.last_updated == sb.clock.now()
    assert sb.client.get_charge(charge_id).refunded_amount == 2_000


def test_refund_with_a_settle_delay(sb: Sandbox) -> None:
    sb.control.settings(refund_settle_seconds=3600)
    _, charge_id = sb.checkout("1502", 5_000)
    sb.capture(charge_id, 5_000)
    created = refund(sb, charge_id, 5_000)
    sb.advance(seconds=3599)
    assert sb.client.get_refund(created.id).status.state == "RefundInitiated"
    assert sb.client.get_charge(charge_id).refunded_amount == 0
    sb.advance(seconds=1)
    assert sb.client.get_refund(created.id).status.state == "Refunded"
    assert sb.client.get_charge(charge_id).refunded_amount == 5_000


def test_several_refunds_up_to_15_percent_over_the_capture(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1503", 10_000)
    sb.capture(charge_id, 10_000)
    first = refund(sb, charge_id, 6_000)
    second = refund(sb, charge_id, 5_500)  # 11,500 = 10,000 + 15 %
    assert first.id != second.id
    with pytest.raises(LimitExceededError) as info:
        refund(sb, charge_id, 1)
    assert (info.value.http_status, info.value.reason_code) == (400, "TransactionAmountExceeded")
    sb.client.get_refund(first.id)
    sb.client.get_refund(second.id)
    assert sb.client.get_charge(charge_id).refunded_amount == 11_500


def test_over_refund_is_capped_at_8400_yen(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1504", 100_000)
    sb.capture(charge_id, 100_000)
    with pytest.raises(LimitExceededError):
        refund(sb, charge_id, 108_401)  # 15 % would be 15,000; 8,400 is less
    assert refund(sb, charge_id, 108_400).amount == 108_400


def test_over_refund_ceiling_is_computed_on_the_captured_amount(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1505", 10_000)
    sb.capture(charge_id, 4_000)  # partial capture: ceiling 4,000 + 600
    with pytest.raises(LimitExceededError):
        refund(sb, charge_id, 4_601)
    assert refund(sb, charge_id, 4_600).amount == 4_600


def test_refund_before_capture_is_refused(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1506", 5_000)
    with pytest.raises(InvalidStateError) as info:
        refund(sb, charge_id, 1_000)
    assert info.value.reason_code == "InvalidChargeStatus"
    assert sb.control.snapshot("1506")["refunds"] == []


def test_refund_decline_ends_declined_and_does_not_use_up_the_refundable_amount(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1507", 5_000)
    sb.capture(charge_id, 5_000)
    sb.control.decline_next("1507", "soft", "refund")
    created = refund(sb, charge_id, 5_000)
    assert created.status.state == "RefundInitiated"
    declined = sb.client.get_refund(created.id)
    assert (declined.status.state, declined.status.reason_code) == ("Declined", "ProcessingFailure")
    assert sb.client.get_charge(charge_id).refunded_amount == 0

    again = refund(sb, charge_id, 5_000)
    assert sb.client.get_refund(again.id).status.state == "Refunded"


def test_charge_read_shows_a_settled_refund_without_reading_the_refund(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1508", 5_000)
    sb.capture(charge_id, 5_000)
    refund(sb, charge_id, 2_000)  # refund_settle_seconds=0: settled by the next read
    sb.advance(seconds=1)
    assert sb.client.get_charge(charge_id).refunded_amount == 2_000


def test_snapshot_is_consistent_about_refunds(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1509", 5_000)
    sb.capture(charge_id, 5_000)
    refund(sb, charge_id, 2_000)
    snap = sb.control.snapshot("1509")
    assert [state(r) for r in snap["refunds"]] == [("Refunded", None)]
    assert snap["charges"][0]["refundedAmount"] == {"amount": "2000", "currencyCode": "JPY"}


def test_refund_has_no_time_limit_even_after_the_cp_expired(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1510", 5_000)
    sb.capture(charge_id, 5_000)
    sb.advance(days=430)
    assert sb.client.get_charge_permission(cp_id).status.reason_code == "Expired"
    created = refund(sb, charge_id, 5_000)
    assert sb.client.get_refund(created.id).status.state == "Refunded"


def test_unknown_refund_is_not_found(sb: Sandbox) -> None:
    with pytest.raises(ResourceNotFoundError):
        sb.client.get_refund("S03-0000000-0000000-R000001")


# --- Seller Central (R31, R32, R38) ---------------------------------------------------------


def test_seller_central_refund_of_a_captured_charge(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1601", 5_000)
    sb.capture(charge_id, 5_000)
    after = sb.control.notifications(0)[-1]["id"]
    made = sb.control.seller_central("refund", "1601", 1_500)
    assert made["chargeId"] == charge_id
    assert state(made) == ("RefundInitiated", None)
    assert sb.client.get_refund(made["refundId"]).status.state == "Refunded"
    notes = sb.control.notifications(after)
    assert [(n["ObjectType"], n["ObjectId"], n["ChargePermissionId"]) for n in notes] == [
        ("REFUND", made["refundId"], cp_id),
        ("REFUND", made["refundId"], cp_id),
    ]
    assert [n["id"] for n in notes] == sorted({n["id"] for n in notes})


def test_seller_central_refund_without_a_captured_charge_is_refused(sb: Sandbox) -> None:
    sb.checkout("1602", 5_000)
    with pytest.raises(UserError) as info:
        sb.control.seller_central("refund", "1602", 1_000)
    assert "InvalidChargeStatus" in info.value.message
    with pytest.raises(BadInput):
        sb.control.seller_central("refund", "1602", 0)


def test_seller_central_capture(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1603", 5_000)
    captured = sb.control.seller_central("capture", "1603", None)
    assert captured["chargeId"] == charge_id
    assert state(captured) == ("Captured", None)
    assert sb.client.get_charge(charge_id).captured_amount == 5_000


def test_seller_central_increase_before_capture_reauthorizes_the_new_total(sb: Sandbox) -> None:
    cp_id, old_id = sb.checkout("1604", 5_000)
    after = sb.control.notifications(0)[-1]["id"]
    made = sb.control.seller_central("increase", "1604", 2_000)

    old = sb.client.get_charge(old_id)
    assert (old.status.state, old.status.reason_code) == ("Canceled", "MerchantCanceled")
    new = sb.client.get_charge(made["chargeId"])
    assert (new.status.state, new.amount) == ("Authorized", 7_000)
    assert new.expires_at == sb.clock.now() + timedelta(days=30)

    notes = sb.control.notifications(after)
    assert [(n["ObjectType"], n["ObjectId"]) for n in notes] == [("CHARGE", old_id), ("CHARGE", made["chargeId"])]
    ids = [n["id"] for n in notes]
    assert ids == sorted(ids) and len(set(ids)) == 2 and ids[0] > after
    assert all(n["ChargePermissionId"] == cp_id and n["NotificationVersion"] == "V2" for n in notes)


def test_seller_central_increase_after_capture_is_a_separate_captured_charge(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1605", 5_000)
    sb.capture(charge_id, 5_000)
    made = sb.control.seller_central("increase", "1605", 1_200)
    assert made["chargeId"] != charge_id
    extra = sb.client.get_charge(made["chargeId"])
    assert (extra.status.state, extra.amount, extra.captured_amount) == ("Captured", 1_200, 1_200)
    original = sb.client.get_charge(charge_id)
    assert (original.status.state, original.captured_amount) == ("Captured", 5_000)


def test_seller_central_increase_beyond_the_limit_changes_nothing(sb: Sandbox) -> None:
    _, old_id = sb.checkout("1606", 5_000)  # amountLimit 70,000
    with pytest.raises(BadInput):
        sb.control.seller_central("increase", "1606", 65_001)
    assert sb.client.get_charge(old_id).status.state == "Authorized"
    assert len(snapshot_charges(sb, "1606")) == 1
    with pytest.raises(BadInput):
        sb.control.seller_central("increase", "1606", 0)


def test_seller_central_increase_of_a_pending_order_reauthorizes_the_new_total(sb: Sandbox) -> None:
    _, old_id = sb.checkout("1608", 5_000, pending=True)
    made = sb.control.seller_central("increase", "1608", 1_000)
    assert state(made)[0] != "Captured"
    assert made["chargeAmount"]["amount"] == "6000"
    assert sb.client.get_charge(old_id).status.reason_code == "MerchantCanceled"


def test_notifications_page_with_after(sb: Sandbox) -> None:
    sb.checkout("1607", 5_000)
    everything = sb.control.notifications(0)
    assert [n["ObjectType"] for n in everything] == ["CHARGE_PERMISSION", "CHARGE"]
    assert all(n["NotificationType"] == "STATE_CHANGE" for n in everything)
    assert sb.control.notifications(everything[0]["id"]) == everything[1:]
    assert sb.control.notifications(everything[-1]["id"]) == []


# --- idempotency (§4) -----------------------------------------------------------------------


def calls_for(sb: Sandbox, key: str) -> list[tuple[str, int, int]]:
    return [(c["path"], c["status"], c["replayed"]) for c in sb.control.calls() if c["idempotency_key"] == key]


def test_create_charge_replays_the_stored_response_for_the_same_key(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1701", 5_000)
    key = new_idempotency_key()
    first = sb.client.create_charge(cp_id, 2_000, idempotency_key=key)
    sb.advance(minutes=1)
    second = sb.client.create_charge(cp_id, 2_000, idempotency_key=key)
    assert second.raw == first.raw
    assert len(snapshot_charges(sb, "1701")) == 2  # the checkout's and one more, not two more
    assert calls_for(sb, key) == [("/charges", 200, 0), ("/charges", 200, 1)]


def test_capture_replays_without_capturing_twice(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1702", 5_000)
    key = new_idempotency_key()
    first = sb.client.capture_charge(charge_id, 5_000, idempotency_key=key)
    second = sb.client.capture_charge(charge_id, 5_000, idempotency_key=key)  # would be InvalidChargeStatus if run
    assert second.raw == first.raw
    assert calls_for(sb, key) == [(f"/charges/{charge_id}/capture", 200, 0), (f"/charges/{charge_id}/capture", 200, 1)]


def test_refund_replays_without_refunding_twice(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("1703", 5_000)
    sb.capture(charge_id, 5_000)
    key = new_idempotency_key()
    first = sb.client.create_refund(charge_id, 4_000, idempotency_key=key)
    second = sb.client.create_refund(charge_id, 4_000, idempotency_key=key)
    assert second.raw == first.raw
    assert len(sb.control.snapshot("1703")["refunds"]) == 1
    assert [c[2] for c in calls_for(sb, key)] == [0, 1]


def test_an_error_answer_is_replayed_for_the_same_key(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1704", 5_000)
    sb.control.decline_next("1704", "soft")
    key = new_idempotency_key()
    for _ in range(2):
        with pytest.raises(DeclinedError) as info:
            sb.client.create_charge(cp_id, 1_000, idempotency_key=key)
        assert info.value.reason_code == "SoftDeclined"
    assert calls_for(sb, key) == [("/charges", 400, 0), ("/charges", 400, 1)]
    assert sb.charge(cp_id, 1_000).status.state == "Authorized"  # a new key retries for real


def test_same_key_with_a_different_body_is_refused(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1705", 5_000)
    key = new_idempotency_key()
    sb.client.create_charge(cp_id, 1_000, idempotency_key=key)
    with pytest.raises(RequestRejectedError) as info:
        sb.client.create_charge(cp_id, 1_001, idempotency_key=key)
    assert (info.value.http_status, info.value.reason_code) == (400, "DuplicateIdempotencyKey")
    with pytest.raises(RequestRejectedError) as other_path:
        sb.client.capture_charge(charge_id, 1_000, idempotency_key=key)  # same key, another operation
    assert other_path.value.reason_code == "DuplicateIdempotencyKey"
    assert len(snapshot_charges(sb, "1705")) == 2
    assert sb.client.get_charge(charge_id).status.state == "Authorized"


def test_body_formatting_does_not_change_the_idempotency_fingerprint(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1706", 5_000)
    key = new_idempotency_key()
    body = {"chargePermissionId": cp_id, "chargeAmount": {"amount": "1000", "currencyCode": "JPY"}}
    first = raw_request(sb, keys, "POST", "/sandbox/v2/charges", json.dumps(body).encode(), key=key)
    reordered = {"chargeAmount": {"currencyCode": "JPY", "amount": "1000"}, "chargePermissionId": cp_id}
    second = raw_request(sb, keys, "POST", "/sandbox/v2/charges", json.dumps(reordered, indent=2).encode(), key=key)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()


@pytest.mark.parametrize(
    ("key", "accepted"),
    [("a" * 32, True), ("Ab-_09", True), ("a" * 33, False), ("abc!", False), ("a b", False)],
)
def test_idempotency_key_format(sb: Sandbox, key: str, accepted: bool) -> None:
    cp_id, _ = sb.checkout("1707", 5_000)
    if accepted:
        assert sb.client.create_charge(cp_id, 100, idempotency_key=key).status.state == "Authorized"
    else:
        with pytest.raises(RequestRejectedError) as info:
            sb.client.create_charge(cp_id, 100, idempotency_key=key)
        assert (info.value.http_status, info.value.reason_code) == (400, "InvalidHeaderValue")
    assert len(snapshot_charges(sb, "1707")) == (2 if accepted else 1)


def test_posts_without_an_idempotency_key_are_refused(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("1708", 5_000)
    body = {"chargePermissionId": cp_id, "chargeAmount": {"amount": "100", "currencyCode": "JPY"}}
    with pytest.raises(RequestRejectedError) as info:
        sb.client.send(ApiRequest("POST", "/charges", body))
    assert (info.value.http_status, info.value.reason_code) == (400, "MissingHeader")
    with pytest.raises(RequestRejectedError):
        sb.client.send(ApiRequest("POST", f"/charges/{charge_id}/capture", {"captureAmount": body["chargeAmount"]}))
    assert len(snapshot_charges(sb, "1708")) == 1


# --- signatures and headers (§1) -------------------------------------------------------------


def raw_request(
    sb: Sandbox,
    keys: KeyPair,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: str | None = None,
    signed_body: bytes | None = None,
    key_id: str = KEY_ID,
    date: datetime | None = None,
    region: str = "jp",
    sign_key: bool = True,
    algorithm: str = ALGORITHM_V2,
) -> httpx.Response:
    """A hand-made signed request, for what the product's client never sends."""
    headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "x-amz-pay-date": amz(date or sb.clock.now()),
        "x-amz-pay-host": "127.0.0.1",
        "x-amz-pay-region": region,
    }
    if key is not None and sign_key:
        headers["x-amz-pay-idempotency-key"] = key
    authorization = sign_request(
        method=method,
        path=path,
        query=(),
        headers=headers,
        body=body if signed_body is None else signed_body,
        private_key=keys.private_key,
        public_key_id=key_id,
        algorithm=algorithm,
    )
    sent = {**headers, "authorization": authorization}
    if key is not None and not sign_key:
        sent["x-amz-pay-idempotency-key"] = key
    return httpx.request(method, sb.url + path, content=body, headers=sent, timeout=5.0)


def test_a_request_signed_with_an_unregistered_key_is_unauthorized(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1801", 5_000)
    stranger = sb.new_client(key_id="SANDBOX-UNKNOWN")
    with pytest.raises(AuthenticationError) as info:
        stranger.get_charge_permission(cp_id)
    assert (info.value.http_status, info.value.reason_code) == (401, "UnauthorizedAccess")
    assert info.value.request_id


def test_a_request_signed_with_the_wrong_private_key_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1802", 5_000)
    impostor = sb.new_client(private_key=load_private_key(generate_key_pair()[0]))
    with pytest.raises(AuthenticationError) as info:
        impostor.create_charge(cp_id, 1_000, idempotency_key=new_idempotency_key())
    assert (info.value.http_status, info.value.reason_code) == (401, "InvalidRequestSignature")
    assert len(snapshot_charges(sb, "1802")) == 1


def test_a_tampered_body_fails_signature_verification(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1803", 5_000)
    signed = json.dumps({"chargePermissionId": cp_id, "chargeAmount": {"amount": "100", "currencyCode": "JPY"}})
    sent = signed.replace('"100"', '"9000"')
    response = raw_request(
        sb, keys, "POST", "/v2/charges", sent.encode(), key=new_idempotency_key(), signed_body=signed.encode()
    )
    assert response.status_code == 401
    body = response.json()
    assert body["reasonCode"] == "InvalidRequestSignature"
    assert body["message"].startswith("Unable to verify signature, signing String [AMZN-PAY-RSASSA-PSS-V2\n")
    assert len(snapshot_charges(sb, "1803")) == 1


def test_an_unsigned_idempotency_key_is_refused(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1804", 5_000)
    body = json.dumps({"chargePermissionId": cp_id, "chargeAmount": {"amount": "100", "currencyCode": "JPY"}})
    response = raw_request(sb, keys, "POST", "/v2/charges", body.encode(), key=new_idempotency_key(), sign_key=False)
    assert (response.status_code, response.json()["reasonCode"]) == (400, "MissingHeader")


def test_missing_or_malformed_authorization_is_refused(sb: Sandbox) -> None:
    missing = httpx.get(sb.url + "/v2/charges/X", headers={"x-amz-pay-date": amz(sb.clock.now())}, timeout=5.0)
    assert (missing.status_code, missing.json()["reasonCode"]) == (400, "MissingHeader")
    malformed = httpx.get(sb.url + "/v2/charges/X", headers={"authorization": "Bearer nonsense"}, timeout=5.0)
    assert (malformed.status_code, malformed.json()["reasonCode"]) == (400, "InvalidHeaderValue")


def test_the_date_header_must_be_signed(sb: Sandbox, keys: KeyPair) -> None:
    headers = {"accept": "application/json"}
    authorization = sign_request(
        method="GET",
        path="/v2/charges/X",
        query=(),
        headers=headers,
        body=b"",
        private_key=keys.private_key,
        public_key_id=KEY_ID,
    )
    response = httpx.get(
        sb.url + "/v2/charges/X",
        headers={**headers, "authorization": authorization, "x-amz-pay-date": amz(sb.clock.now())},
        timeout=5.0,
    )
    assert (response.status_code, response.json()["reasonCode"]) == (400, "InvalidHeaderValue")


def test_a_date_more_than_5_minutes_in_the_future_is_refused(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1805", 5_000)
    ahead = FixedClock(sb.clock.now() + timedelta(minutes=5, seconds=1))
    with pytest.raises(RequestRejectedError) as info:
        sb.new_client(clock=ahead).get_charge_permission(cp_id)
    assert (info.value.http_status, info.value.reason_code) == (400, "InvalidHeaderValue")
    assert "should not be in future" in info.value.amazon_message

    just_in_time = FixedClock(sb.clock.now() + timedelta(minutes=5))
    assert sb.new_client(clock=just_in_time).get_charge_permission(cp_id).id == cp_id
    long_ago = FixedClock(sb.clock.now() - timedelta(hours=1))
    assert sb.new_client(clock=long_ago).get_charge_permission(cp_id).id == cp_id  # maximum age unverified (§1)


def test_node_style_extended_date_is_accepted(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1806", 5_000)
    headers = {
        "accept": "application/json",
        "x-amz-pay-date": sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-amz-pay-region": "jp",
    }
    path = f"/v2/chargePermissions/{cp_id}"
    authorization = sign_request(
        method="GET",
        path=path,
        query=(),
        headers=headers,
        body=b"",
        private_key=keys.private_key,
        public_key_id=KEY_ID,
    )
    response = httpx.get(sb.url + path, headers={**headers, "authorization": authorization}, timeout=5.0)
    assert response.status_code == 200
    assert response.json()["chargePermissionId"] == cp_id


@pytest.mark.parametrize(("region", "status"), [("jp", 200), ("JP", 200), ("eu", 400)])
def test_region_header(sb: Sandbox, keys: KeyPair, region: str, status: int) -> None:
    cp_id, _ = sb.checkout("1807", 5_000)
    response = raw_request(sb, keys, "GET", f"/v2/chargePermissions/{cp_id}", region=region)
    assert response.status_code == status


@pytest.mark.parametrize(("key_id", "prefix"), [(KEY_ID, "/v2"), (PLAIN_KEY_ID, "/sandbox/v2")])
@pytest.mark.parametrize("trailing_slash", [False, True])
def test_both_path_prefixes_and_a_trailing_slash_work(
    sb: Sandbox, key_id: str, prefix: str, trailing_slash: bool
) -> None:
    cp_id, charge_id = sb.checkout("1808", 5_000)
    client = sb.new_client(key_id=key_id)
    tail = "/" if trailing_slash else ""
    read = client.send(ApiRequest("GET", f"/charges/{charge_id}{tail}"))
    assert read.data["chargeId"] == charge_id
    captured = client.send(
        ApiRequest(
            "POST",
            f"/charges/{charge_id}/capture{tail}",
            {"captureAmount": {"amount": "5000", "currencyCode": "JPY"}},
            new_idempotency_key(),
        )
    )
    assert captured.data["statusDetails"]["state"] == "Captured"
    created = client.send(
        ApiRequest(
            "POST",
            f"/refunds{tail}",
            {"chargeId": charge_id, "refundAmount": {"amount": "100", "currencyCode": "JPY"}},
            new_idempotency_key(),
        )
    )
    assert created.data["refundId"].startswith(cp_id)
    # The route is recorded without prefix and trailing slash.
    assert [c["path"] for c in sb.control.calls()[-3:]] == [
        f"/charges/{charge_id}",
        f"/charges/{charge_id}/capture",
        "/refunds",
    ]
    assert client.get_charge_permission(cp_id).id == cp_id


def test_an_unknown_path_prefix_or_operation_is_not_found(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1809", 5_000)
    assert raw_request(sb, keys, "GET", f"/v1/chargePermissions/{cp_id}").status_code == 404
    assert raw_request(sb, keys, "GET", f"/test/v2/chargePermissions/{cp_id}").status_code == 404
    response = raw_request(sb, keys, "GET", "/v2/checkoutSessions/abc")
    assert (response.status_code, response.json()["reasonCode"]) == (404, "ResourceNotFound")


def test_v1_signatures_are_accepted(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, charge_id = sb.checkout("1810", 5_000)
    v1 = sb.new_client(algorithm=ALGORITHM_V1)
    assert v1.get_charge_permission(cp_id).id == cp_id
    assert v1.capture_charge(charge_id, 5_000, idempotency_key=new_idempotency_key()).status.state == "Captured"
    response = raw_request(sb, keys, "GET", f"/sandbox/v2/charges/{charge_id}", algorithm=ALGORITHM_V1)
    assert response.status_code == 200


def test_a_non_json_body_is_refused(sb: Sandbox, keys: KeyPair) -> None:
    for body in (b"not json", b"[1, 2]"):
        response = raw_request(sb, keys, "POST", "/v2/charges", body, key=new_idempotency_key())
        assert (response.status_code, response.json()["reasonCode"]) == (400, "InvalidRequestFormat")


def test_responses_carry_a_request_id(sb: Sandbox, keys: KeyPair) -> None:
    cp_id, _ = sb.checkout("1811", 5_000)
    first = raw_request(sb, keys, "GET", f"/v2/chargePermissions/{cp_id}")
    second = raw_request(sb, keys, "GET", f"/v2/chargePermissions/{cp_id}")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-amz-pay-request-id"])
    assert first.headers["x-amz-pay-request-id"] != second.headers["x-amz-pay-request-id"]


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        ("429", ThrottledError, "TooManyRequests"),
        ("500", ServiceError, "InternalServerError"),
        ("503", ServiceError, "ServiceUnavailable"),
    ],
)
def test_next_call_fault_is_answered_without_processing(
    sb: Sandbox, kind: str, error: type[AmazonPayError], reason: str
) -> None:
    cp_id, _ = sb.checkout("1901", 5_000)
    sb.control.add_fault(kind)
    key = new_idempotency_key()
    with pytest.raises(error) as info:
        sb.client.create_charge(cp_id, 1_000, idempotency_key=key)
    assert (info.value.http_status, info.value.reason_code) == (int(kind), reason)
    assert len(snapshot_charges(sb, "1901")) == 1  # not processed
    assert calls_for(sb, key) == [("/charges", int(kind), 0)]

    # The fault is used up; the same key now processes the request for the first time.
    sb.client.create_charge(cp_id, 1_000, idempotency_key=key)
    assert len(snapshot_charges(sb, "1901")) == 2
    assert calls_for(sb, key) == [("/charges", int(kind), 0), ("/charges", 200, 0)]


def test_a_fault_with_a_count_hits_that_many_calls(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1902", 5_000)
    sb.control.add_fault("503", count=2)
    for _ in range(2):
        with pytest.raises(ServiceError):
            sb.client.get_charge_permission(cp_id)
    assert sb.client.get_charge_permission(cp_id).id == cp_id


def test_timeout_fault_processes_the_request_but_withholds_the_answer(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1903", 5_000)
    sb.control.settings(hang_seconds=0.6)
    sb.control.add_fault("timeout")
    impatient = sb.new_client(timeout=0.2)
    key = new_idempotency_key()
    with pytest.raises(GatewayOutcomeUnknown):
        impatient.create_charge(cp_id, 1_000, idempotency_key=key)
    charges = snapshot_charges(sb, "1903")
    assert len(charges) == 2  # processed although the caller never heard back
    created = charges[-1]

    replayed = impatient.create_charge(cp_id, 1_000, idempotency_key=key)
    assert replayed.raw == created
    assert impatient.create_charge(cp_id, 1_000, idempotency_key=key).raw == created
    assert len(snapshot_charges(sb, "1903")) == 2
    assert calls_for(sb, key) == [("/charges", 200, 0), ("/charges", 200, 1), ("/charges", 200, 1)]


def test_timeout_fault_on_a_read_withholds_the_answer_once(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1904", 5_000)
    sb.control.settings(hang_seconds=0.5)
    sb.control.add_fault("timeout")
    impatient = sb.new_client(timeout=0.2)
    with pytest.raises(GatewayOutcomeUnknown):
        impatient.get_charge_permission(cp_id)
    assert impatient.get_charge_permission(cp_id).id == cp_id


def test_a_hang_longer_than_the_client_waits_is_the_same_as_a_dropped_connection(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("1905", 5_000)
    sb.control.settings(hang_seconds=0.1)
    sb.control.add_fault("timeout")
    patient = sb.new_client(timeout=3.0)  # the server closes the connection without an answer
    with pytest.raises(GatewayOutcomeUnknown):
        patient.create_charge(cp_id, 1_000, idempotency_key=new_idempotency_key())
    assert len(snapshot_charges(sb, "1905")) == 2


def _fault_pattern(sb: Sandbox, cp_id: str, calls: int) -> list[bool]:
    pattern = []
    for _ in range(calls):
        try:
            sb.client.get_charge_permission(cp_id)
        except ServiceError:
            pattern.append(True)
        else:
            pattern.append(False)
    return pattern


def test_rate_faults_with_a_seed_are_deterministic(make_sandbox: Callable[..., Sandbox]) -> None:
    patterns = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        sandbox = make_sandbox(name)
        cp_id, _ = sandbox.checkout(f"2000{name}", 5_000)
        sandbox.control.add_fault("500", rate=0.5, seed=seed)
        patterns.append(_fault_pattern(sandbox, cp_id, 24))
    assert patterns[0] == patterns[1]
    assert 0 < sum(patterns[0]) < 24  # a mix of faults and answers
    assert patterns[2] != patterns[0]  # another seed, another sequence


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 6)])
def test_rate_extremes(sb: Sandbox, rate: float, expected: int) -> None:
    cp_id, _ = sb.checkout("2001", 5_000)
    sb.control.add_fault("500", rate=rate)
    assert sum(_fault_pattern(sb, cp_id, 6)) == expected


def test_fault_path_filter_only_hits_matching_paths(sb: Sandbox) -> None:
    cp_id, charge_id = sb.checkout("2002", 5_000)
    sb.capture(charge_id, 5_000)
    sb.control.add_fault("500", path="/refunds")
    assert sb.client.get_charge(charge_id).id == charge_id
    assert sb.client.get_charge_permission(cp_id).id == cp_id
    with pytest.raises(ServiceError):
        refund(sb, charge_id, 1_000)
    assert sb.control.snapshot("2002")["refunds"] == []
    assert refund(sb, charge_id, 1_000).amount == 1_000


def test_clear_faults(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("2003", 5_000)
    sb.control.add_fault("500", count=5)
    sb.control.add_fault("429", rate=1.0)
    sb.control.clear_faults()
    assert sb.client.get_charge_permission(cp_id).id == cp_id


def test_fault_arguments_are_validated(sb: Sandbox) -> None:
    with pytest.raises(BadInput):
        sb.control.add_fault("418")
    with pytest.raises(BadInput):
        sb.control.add_fault("500", rate=1.5)


def test_control_calls_are_not_faulted(sb: Sandbox) -> None:
    sb.control.add_fault("500", rate=1.0)
    sb.checkout("2004", 5_000)
    assert sb.control.health()["ok"] is True


def test_next_call_faults_come_before_rate_faults(sb: Sandbox) -> None:
    cp_id, _ = sb.checkout("2005", 5_000)
    sb.control.add_fault("500", rate=1.0)
    sb.control.add_fault("429")
    with pytest.raises(ThrottledError):
        sb.client.get_charge_permission(cp_id)


def test_the_call_log_records_error_answers_too(sb: Sandbox) -> None:
    _, charge_id = sb.checkout("2006", 5_000)
    with pytest.raises(ResourceNotFoundError):
        sb.client.get_charge(charge_id + "9")
    sb.capture(charge_id, 5_000)
    with pytest.raises(InvalidStateError):
        sb.client.cancel_charge(charge_id, "取消")
    assert [(c["method"], c["status"]) for c in sb.control.calls()] == [("GET", 404), ("POST", 200), ("DELETE", 422)]


def test_settings_can_be_read_and_changed(sb: Sandbox) -> None:
    defaults = sb.control.settings()
    assert set(defaults) == {
        "capture_settle_seconds",
        "refund_settle_seconds",
        "auth_settle_seconds",
        "hang_seconds",
        "fee_rate_percent",
    }
    changed = sb.control.settings(hang_seconds=0.25)
    assert changed["hang_seconds"] == 0.25
    assert sb.control.settings()["hang_seconds"] == 0.25
    with pytest.raises(BadInput):
        sb.control.settings(no_such_setting=1)


# --- persistence ----------------------------------------------------------------------------


def test_state_persists_in_the_sqlite_file(sb: Sandbox, clock: FixedClock, keys: KeyPair) -> None:
    cp_id, charge_id = sb.checkout("2101", 5_000)
    sb.capture(charge_id, 5_000)
    refund_id = refund(sb, charge_id, 1_000).id
    assert sb.client.get_refund(refund_id).status.state == "Refunded"
    sb.control.settings(refund_settle_seconds=3600)
    key = new_idempotency_key()
    extra = sb.client.create_charge(cp_id, 2_000, idempotency_key=key)

    second = SandboxBackend(sb.backend.path, clock)
    assert second.snapshot(cp_id) == sb.control.snapshot("2101")
    assert second.get_charge(charge_id)["statusDetails"]["state"] == "Captured"
    assert second.get_refund(refund_id)["refundId"] == refund_id
    assert second.public_key_pem(KEY_ID) == keys.public_pem
    assert second.settings()["refund_settle_seconds"] == 3600
    assert second.cp_for_order("2101") == cp_id

    # A second server on that backend serves the same objects and remembers idempotency keys.
    server = start_server(second)
    try:
        client = AmazonPayClient(
            Credentials(KEY_ID, keys.private_key), base_url=server.url, clock=clock, timeout=5.0, retry_delays=()
        )
        with client:
            assert client.get_charge(charge_id).captured_amount == 5_000
            assert client.create_charge(cp_id, 2_000, idempotency_key=key).raw == extra.raw
    finally:
        stop_server(server)
    assert len(second.snapshot(cp_id)["charges"]) == 2
