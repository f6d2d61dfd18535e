"""Tables of the store. Money columns are Integer yen; times are stored as UTC.

The journal is append-only: triggers refuse UPDATE and DELETE (see the first migration).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC; returns aware UTC (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The reading (フリガナ) when the shop's file gives one: searched with the name (issue 16 item 6).
    name_reading: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str] = mapped_column(String(320), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    is_member: Mapped[bool] = mapped_column(Boolean, default=False)
    # R7: guests record no consent: NULL, never False.
    newsletter_consent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amazon_linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class ChargePermission(Base):
    __tablename__ = "charge_permissions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    instrument: Mapped[str] = mapped_column(String(16))
    amount_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What Amazon says the permission still allows (limits.amountBalance, 0007): below the limit
    # on a one-time permission, a charge exists even when no Charge ID is known here.
    amount_balance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # R3: exactly one shipping address per order.
    ship_name: Mapped[str] = mapped_column(String(200))
    ship_postal_code: Mapped[str] = mapped_column(String(16))
    ship_prefecture: Mapped[str] = mapped_column(String(16))
    ship_address: Mapped[str] = mapped_column(String(400))
    ship_phone: Mapped[str] = mapped_column(String(32))
    shipping_fee: Mapped[int] = mapped_column(Integer, default=0)
    fees: Mapped[int] = mapped_column(Integer, default=0)
    discount: Mapped[int] = mapped_column(Integer, default=0)
    # 金額調整: the operator's direct change of the total (`kanjo amount`), beside items and fees.
    adjustment: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, index=True)
    original_total: Mapped[int] = mapped_column(Integer)
    order_status: Mapped[str] = mapped_column(String(16), index=True)
    tracking_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    shop_memo: Mapped[str] = mapped_column(Text, default="")
    payment_method: Mapped[str] = mapped_column(String(32), default="amazon_pay")
    charge_permission_id: Mapped[str | None] = mapped_column(
        ForeignKey("charge_permissions.id"), nullable=True, index=True
    )
    payment_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # R41: the message shown after the last (re-)authorization failed; cleared on success.
    reauth_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    reauth_reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # R32: the amount was changed in Seller Central; capture is no longer sent from here.
    amount_changed_externally: Mapped[bool] = mapped_column(Boolean, default=False)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Denormalised summary for the order list (filtered and sorted in SQL), refreshed on every write.
    payment_status: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    auth_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    authorized_amount: Mapped[int] = mapped_column(Integer, default=0)
    captured_amount: Mapped[int] = mapped_column(Integer, default=0)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Issue 11: where the order came from (an import format or saved mapping name, or
    # 'manual' / 'sandbox' / 'demo'), the Amazon Pay environment it belongs to, and the file's
    # total when it differs from what Amazon authorized (flagged, never applied).
    source: Mapped[str] = mapped_column(String(64), default="sandbox", server_default="sandbox")
    # 'live' | 'sandbox' (Amazon's) | 'builtin' (the local sandbox), core.environment (0006). The
    # database default stays 0005's 'sandbox' (changing it would rebuild the table and its
    # search triggers); every insert here names the environment.
    environment: Mapped[str] = mapped_column(String(16), default="builtin", server_default="sandbox")
    shop_total_mismatch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payment_label: Mapped[str | None] = mapped_column(String(64), nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    charge_permission: Mapped[ChargePermission | None] = relationship()
    charges: Mapped[list[Charge]] = relationship(
        back_populates="order", order_by="(Charge.created_at, Charge.seq)", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", order_by="(Refund.created_at, Refund.seq)", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(Integer)
    cost_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    # Issue 15: the shop's item code (from the import file), to set a cost price by (0013).
    sku: Mapped[str] = mapped_column(String(64), default="", server_default="")

    order: Mapped[Order] = relationship(back_populates="items")


class Charge(Base):
    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Order of creation within the order: ties on created_at (same second) keep their sequence.
    seq: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    charge_permission_id: Mapped[str] = mapped_column(ForeignKey("charge_permissions.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    captured_amount: Mapped[int] = mapped_column(Integer, default=0)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    capture_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    capture_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    order: Mapped[Order] = relationship(back_populates="charges")
    refunds: Mapped[list[Refund]] = relationship(back_populates="charge", viewonly=True)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    charge_id: Mapped[str] = mapped_column(ForeignKey("charges.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    origin: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    order: Mapped[Order] = relationship(back_populates="refunds")
    charge: Mapped[Charge] = relationship(back_populates="refunds", viewonly=True)


class ImportRecord(Base):
    """One import of a shop's order file (issue 11, item 4); the journal has an event too."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    file_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16))
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    operator: Mapped[str] = mapped_column(String(64), default="")
    completed: Mapped[bool] = mapped_column(Boolean, default=True)


class SearchIndexPause(Base):
    """A row here, only ever inside one writer's transaction, pauses the SQLite order-search
    insert trigger (migration 0007, ``core/db/search_index.py``)."""

    __tablename__ = "search_index_paused"
    __table_args__ = (CheckConstraint("id = 1", name="ck_search_index_paused_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ImportMapping(Base):
    """A saved column mapping for "any other CSV" (``--format NAME``), as JSON."""

    __tablename__ = "import_mappings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    columns_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JournalEntry(Base):
    """Append-only audit journal and write-ahead log of every money call.

    ``phase`` is ``intent`` (written and committed before the gateway call), ``outcome``
    (after it, pointing at its intent) or ``event`` (something noticed, e.g. a Seller Central
    refund found by a sync, or a local-only record).
    """

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(16))
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("journal.id"), nullable=True, index=True)
    order_number: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    charge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    request_method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    request_path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    gateway_request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # Issue 14 item 3: the operator's name at the PC that wrote the entry (core.operator); ``actor``
    # stays the role (operator, sync, buyer, seller_central). '' for entries written before 0008.
    operator: Mapped[str] = mapped_column(String(64), default="", server_default="")


class OrderChange(Base):
    """A log of which order changed, appended by triggers on SQLite (migration 0009).

    Live updates (core/changes/): a window reads the numbers whose ``seq`` passed the last one
    it saw. On PostgreSQL the same triggers send ``NOTIFY kanjo_orders`` instead and this stays empty.
    """

    __tablename__ = "order_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64))


Index("ix_orders_status_ordered", Order.payment_status, Order.ordered_at)
# The order list filters 承認済/承認完了 by expiry (R9) and sorts by customer name.
Index("ix_orders_status_expiry", Order.payment_status, Order.auth_expires_at, Order.ordered_at)
Index("ix_customers_name", Customer.name)


# --- Messages to customers (issue 5, R51) --------------------------------------------------


class MessageTemplate(Base):
    """An operator's own template (a built-in copied and edited, or written from scratch).

    Its text lives in versions: saving adds a version, nothing is overwritten, so any earlier
    text (and, for a copy, the built-in it came from) can be restored. Built-ins themselves are
    files under ``resources/templates`` and never change.
    """

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    based_on: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the built-in's id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    versions: Mapped[list[MessageTemplateVersion]] = relationship(
        back_populates="template", order_by="MessageTemplateVersion.version", cascade="all, delete-orphan"
    )


class MessageTemplateVersion(Base):
    __tablename__ = "message_template_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    template: Mapped[MessageTemplate] = relationship(back_populates="versions")


class Message(Base):
    """One message to a customer, kept with its order whatever happened to it.

    Stored as ``draft`` before it is handed to the SMTP server, then marked ``sent`` or
    ``failed`` (with the reason); ``manual`` when the operator copied it to send by hand.
    """

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    template_id: Mapped[str] = mapped_column(String(64))  # a built-in id, or 'user-<n>'
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))  # 'smtp' | 'manual'
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    smtp_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    operator: Mapped[str] = mapped_column(String(64), default="", server_default="")  # who wrote it (issue 14)


Index(
    "ux_message_template_versions_version",
    MessageTemplateVersion.template_id,
    MessageTemplateVersion.version,
    unique=True,
)


# --- Settlements (issue 13, R57, R60) -------------------------------------------------------


class SettlementReport(Base):
    """A copy of every settlement report read (Amazon keeps them 90 days, R60), gzip-compressed."""

    __tablename__ = "settlement_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)  # Amazon's, via the API
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the file as read
    source: Mapped[str] = mapped_column(String(16))  # 'api' | 'file'
    name: Mapped[str] = mapped_column(String(255), default="")
    seller_id: Mapped[str] = mapped_column(String(64), default="")
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    header: Mapped[str] = mapped_column(Text, default="")  # the header block, JSON


class SettlementReportPart(Base):
    """The report's bytes as read, zlib-compressed, in parts of about 1 MiB (memory stays flat)."""

    __tablename__ = "settlement_report_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("settlement_reports.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Settlement(Base):
    """One settlement period and its deposit; the sums are recomputed from its rows."""

    __tablename__ = "settlements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SettlementId
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    captured: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    fees: Mapped[int] = mapped_column(Integer, default=0)
    chargebacks: Mapped[int] = mapped_column(Integer, default=0)
    other: Mapped[int] = mapped_column(Integer, default=0)  # adjustments, debts and carryover
    deposit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the Transfer row
    rows: Mapped[int] = mapped_column(Integer, default=0)
    disbursement_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disbursement_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SettlementLine(Base):
    """One row of a settlement report, unique by settlement and key (a re-read adds nothing)."""

    __tablename__ = "settlement_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    transaction_type: Mapped[str] = mapped_column(String(32))
    transaction_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    charge_permission_id: Mapped[str] = mapped_column(String(128), default="")
    seller_reference_id: Mapped[str] = mapped_column(String(128), default="")
    order_number: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int] = mapped_column(Integer)
    net: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    charge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    extra: Mapped[str] = mapped_column(Text, default="")  # the report's other columns, JSON


class SettlementProblem(Base):
    """What the matching found wrong with a row (kinds in core.settlements.reconcile)."""

    __tablename__ = "settlement_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[str] = mapped_column(String(64), index=True)
    row_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    order_number: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)


Index("ux_settlement_rows_key", SettlementLine.settlement_id, SettlementLine.key, unique=True)
Index("ux_settlement_problems_key", SettlementProblem.settlement_id, SettlementProblem.row_key, unique=True)


# --- Shipping and the cancellation desk (issue 15, migration 0013) ---------------------------


class Shipment(Base):
    """An order's shipment (R24): one per order, so an order is never shipped twice."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    carrier: Mapped[str] = mapped_column(String(16))  # core.shipping.carriers.Carrier
    tracking_number: Mapped[str] = mapped_column(String(64))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    operator: Mapped[str] = mapped_column(String(64), default="", server_default="")


class OrderCost(Base):
    """What an order cost the shop beyond its items' cost prices (R47's calculator, net result)."""

    __tablename__ = "order_costs"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    shipping_cost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    payment_fee: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resale_estimate: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CancellationRequest(Base):
    """A cancellation request of a customer (R44–R48), or a supplier failure (R50), and its return."""

    __tablename__ = "cancellation_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # customer | supplier
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))  # mail | phone | form
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), index=True)  # core.shipping.cancellation.RequestState
    option: Mapped[str | None] = mapped_column(String(16), nullable=True)
    refund_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # R50: the last guided step finished (apology, refund, cancel), to resume after an interruption.
    step: Mapped[str] = mapped_column(String(16), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Resale(Base):
    """A returned item sold again (R49), e.g. at an auction."""

    __tablename__ = "resales"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    operator: Mapped[str] = mapped_column(String(64), default="", server_default="")


# --- Subscriptions and reservations (issue 12, migration 0011) ------------------------------


class Subscription(Base):
    """A subscription contract (定期・頒布会) on a Recurring Charge Permission (R17, R59).

    ``order_number`` is the checkout's order (round 1); each generation is an order of its own,
    ``{order_number}-{round}``, recorded in :class:`SubscriptionRound`. ``state`` is a
    ``core.subscriptions.rules.ContractState``; ``next_date`` a Tokyo calendar day.
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    charge_permission_id: Mapped[str] = mapped_column(ForeignKey("charge_permissions.id"), index=True)
    every: Mapped[str] = mapped_column(String(8))  # 1m, 2w, 30d
    anchor: Mapped[date] = mapped_column(Date)
    # The round that falls on ``anchor``: moving the next date (edit, resume) re-anchors the schedule.
    anchor_round: Mapped[int] = mapped_column(Integer, default=1)
    rounds_done: Mapped[int] = mapped_column(Integer, default=1)
    rounds_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    item_amount: Mapped[int] = mapped_column(Integer)
    shipping_fee: Mapped[int] = mapped_column(Integer, default=0)
    next_date: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubscriptionRound(Base):
    """One generation of a contract: exactly one per (contract, round) (unique index)."""

    __tablename__ = "subscription_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)  # rules.RoundState
    hold_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    intent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    generated_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ux_subscription_rounds_round", SubscriptionRound.subscription_id, SubscriptionRound.round, unique=True)


class ReservationPlan(Base):
    """A reservation order's planned shipping day (R12), a Tokyo calendar day."""

    __tablename__ = "reservation_plans"

    order_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    planned_ship: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
