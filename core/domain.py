"""Domain vocabulary: enums with their Japanese labels, and immutable facts about payments.

No I/O here. Money is int yen. Times are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# R4: what Amazon (and so the product) says about an address with unusable data.
R4_ADDRESS_MESSAGE = "ご指定のお届け先は利用できません。別のお届け先を選択してください"


class OrderKind(StrEnum):
    """R2."""

    NORMAL = "normal"
    RESERVATION = "reservation"
    SUBSCRIPTION = "subscription"
    # Issue 11: an Amazon marketplace order from a Seller Central order report; its money
    # moves in Seller Central, never through Amazon Pay (R57, R61).
    MARKETPLACE = "marketplace"

    @property
    def label(self) -> str:
        return {
            "normal": "通常商品",
            "reservation": "予約商品",
            "subscription": "定期・頒布会",
            "marketplace": "マーケットプレイス",
        }[self.value]


# The kinds an Amazon Pay checkout can have (R2); a marketplace order never takes an Amazon Pay action.
AMAZON_PAY_KINDS: tuple[OrderKind, ...] = (OrderKind.NORMAL, OrderKind.RESERVATION, OrderKind.SUBSCRIPTION)


class OrderStatus(StrEnum):
    NEW = "new"
    RESERVED = "reserved"
    PROCESSING = "processing"
    PREPARING = "preparing"  # issue 15: 発送準備中, between 新規受付 and 発送済
    ON_HOLD = "on_hold"
    SHIPPED = "shipped"
    DONE = "done"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return ORDER_STATUS_LABELS[self]


ORDER_STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.NEW: "新規受付",
    OrderStatus.RESERVED: "予約",
    OrderStatus.PROCESSING: "通常処理",
    OrderStatus.PREPARING: "発送準備中",
    OrderStatus.ON_HOLD: "保留",
    OrderStatus.SHIPPED: "発送済",
    OrderStatus.DONE: "処理済",
    OrderStatus.CANCELED: "キャンセル",
}


class Instrument(StrEnum):
    """What the buyer pays with (R1, R22)."""

    CARD = "card"
    GIFT = "gift"
    GIFT_AND_CARD = "gift+card"

    @property
    def memo_line(self) -> str:
        """The payment-method line appended to the shop memo (R22)."""
        return {
            "card": "Amazonアカウントで指定したお支払い方法",
            "gift": "Amazonギフト券",
            "gift+card": "Amazonギフト券と指定のお支払い方法",
        }[self.value]


class ChargeState(StrEnum):
    """Amazon Pay Charge states (amazonpay-api.md §2)."""

    AUTHORIZATION_INITIATED = "AuthorizationInitiated"
    AUTHORIZED = "Authorized"
    CAPTURE_INITIATED = "CaptureInitiated"
    CAPTURED = "Captured"
    CANCELED = "Canceled"
    DECLINED = "Declined"


class RefundState(StrEnum):
    REFUND_INITIATED = "RefundInitiated"
    REFUNDED = "Refunded"
    DECLINED = "Declined"


class ChargePermissionState(StrEnum):
    CHARGEABLE = "Chargeable"
    NON_CHARGEABLE = "NonChargeable"
    CLOSED = "Closed"


class ChargePermissionType(StrEnum):
    ONE_TIME = "OneTime"
    RECURRING = "Recurring"


class ChargePurpose(StrEnum):
    """Why a charge exists on an order (one order has many, R39)."""

    ORIGINAL = "original"
    INCREASE = "increase"
    REAUTH = "reauth"
    GENERATION = "generation"


class Origin(StrEnum):
    """Who did it: this product, or someone in Seller Central (R31, R32, R38)."""

    PRODUCT = "product"
    SELLER_CENTRAL = "seller_central"


class PaymentStatus(StrEnum):
    """The 与信ステータス badge labels of R10, exactly."""

    AUTH_PENDING = "承認中"
    AUTHORIZED = "承認済"
    AUTH_LAPSED = "承認完了"
    AUTH_FAILED = "承認失敗"
    AUTH_CANCELED = "承認取消済"
    CAPTURE_PENDING = "請求中"
    CAPTURE_RECORDED = "請求済"
    CAPTURE_COMPLETED = "請求完了"
    CAPTURE_DECLINED = "請求却下"
    REFUND_PENDING = "返金中"
    REFUNDED = "返金済"
    REFUND_DECLINED = "返金却下"
    UNREACHABLE = "(Amazonのステータスが取得できませんでした)"


class Tone(StrEnum):
    """How a badge reads at a glance (the window colours it)."""

    SUCCESS = "success"
    PROGRESS = "progress"
    ATTENTION = "attention"
    FAILURE = "failure"
    NEUTRAL = "neutral"


BADGE_TONES: dict[PaymentStatus, Tone] = {
    PaymentStatus.AUTH_PENDING: Tone.PROGRESS,
    PaymentStatus.AUTHORIZED: Tone.SUCCESS,
    PaymentStatus.AUTH_LAPSED: Tone.ATTENTION,
    PaymentStatus.AUTH_FAILED: Tone.FAILURE,
    PaymentStatus.AUTH_CANCELED: Tone.NEUTRAL,
    PaymentStatus.CAPTURE_PENDING: Tone.PROGRESS,
    PaymentStatus.CAPTURE_RECORDED: Tone.SUCCESS,
    PaymentStatus.CAPTURE_COMPLETED: Tone.SUCCESS,
    PaymentStatus.CAPTURE_DECLINED: Tone.FAILURE,
    PaymentStatus.REFUND_PENDING: Tone.PROGRESS,
    PaymentStatus.REFUNDED: Tone.NEUTRAL,
    PaymentStatus.REFUND_DECLINED: Tone.FAILURE,
    PaymentStatus.UNREACHABLE: Tone.ATTENTION,
}


@dataclass(frozen=True)
class ChargeFacts:
    """What the status rules need to know about one charge."""

    id: str
    state: ChargeState
    reason_code: str | None
    amount: int
    captured_amount: int
    refunded_amount: int
    created_at: datetime
    expires_at: datetime | None
    capture_requested: bool
    capture_confirmed: bool
    purpose: ChargePurpose = ChargePurpose.ORIGINAL
    seq: int = 0  # creation order within the order, for charges created in the same instant


@dataclass(frozen=True)
class RefundFacts:
    id: str
    charge_id: str
    state: RefundState
    amount: int
    created_at: datetime
    reason_code: str | None = None
    seq: int = 0


@dataclass(frozen=True)
class ChargePermissionFacts:
    id: str
    type: ChargePermissionType
    state: ChargePermissionState
    reason_code: str | None
    expires_at: datetime | None
    instrument: Instrument
    amount_limit: int | None = None
    amount_balance: int | None = None  # limits.amountBalance as last read (0007)
