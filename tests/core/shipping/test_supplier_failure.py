"""R50 (issue 15 item 5): apology, full refund with the reason 「その他」, cancel — each step
journaled, resumable after the process dies; and marketplace orders on the same desk (R61)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app import Kanjo, open_app, sandbox_db_path
from core.clock import FixedClock
from core.domain import OrderStatus
from core.gateway import SANDBOX_PUBLIC_KEY_ID, ensure_sandbox_key
from core.sandbox.backend import SandboxBackend
from core.sandbox.control import SandboxControl, read_control_secret
from core.sandbox.server import SandboxServer
from tests.conftest import NOW
from tests.core.imports.test_service import FILE, shop_order
from tests.helpers import place_order

YAMATO = "444413758703"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Kanjo, str, Path]]:
    """A sandbox server of this process that a forked child can reach too."""
    clock = FixedClock(NOW)
    backend = SandboxBackend(sandbox_db_path(f"sqlite:///{tmp_path / 'kanjo.sqlite3'}"), clock)
    _private, public = ensure_sandbox_key(tmp_path / "sandbox-key.pem")
    backend.register_public_key(SANDBOX_PUBLIC_KEY_ID, public.decode("ascii"))
    server = SandboxServer(backend).start()
    env = {"KANJO_HOME": str(tmp_path), "KANJO_SANDBOX_URL": server.url}
    app = open_app(f"sqlite:///{tmp_path / 'kanjo.sqlite3'}", clock=clock, environ=env)
    app.settings.save(shop_name="勘定商店", seller_token="A2KANJOTOKEN")
    app.set_operator_name("根本")
    try:
        yield app, server.url, tmp_path
    finally:
        app.close()
        server.stop()


def test_interrupted_after_the_refund_then_resumed_refunds_exactly_once(world: tuple[Kanjo, str, Path]) -> None:
    app, url, home = world
    place_order(app, "R50-1", 5_500)
    app.shipping.ship("R50-1", "yamato", YAMATO)  # captured on shipping (R24)
    pid = os.fork()
    if pid == 0:  # the child dies right after the refund, before the step is remembered
        try:
            os.environ["KANJO_CRASHPOINT"] = "supplier_failure:after_refund"
            env = {"KANJO_HOME": str(home), "KANJO_SANDBOX_URL": url}
            child = open_app(f"sqlite:///{home / 'kanjo.sqlite3'}", clock=FixedClock(NOW), environ=env)
            child.set_operator_name("根本")
            child.shipping.supplier_failure("R50-1", confirmed=True)
        finally:
            os._exit(99)
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert app.shipping.summary("R50-1")["cancellation"]["state"] == "open"  # stopped half-way
    result = app.shipping.supplier_failure("R50-1")  # resume: no --yes needed to finish
    assert result.state == "canceled"
    control = SandboxControl(url, secret=read_control_secret(sandbox_db_path(f"sqlite:///{home / 'kanjo.sqlite3'}")))
    assert [r["refundAmount"]["amount"] for r in control.snapshot("R50-1")["refunds"]] == ["5500"]
    control.close()
    detail = app.orders.detail("R50-1")
    assert detail.order_status == OrderStatus.CANCELED.label
    assert [r.reason for r in detail.refunds] == ["その他"]
    apologies = [m for m in detail.messages if m.template_id == "supplier-apology"]
    assert len(apologies) == 1 and "根本" in apologies[0].body  # signed with the operator's name
    steps = [j.action for j in detail.journal if j.action.startswith("supplier")]
    assert steps == ["supplier_failure", "supplier_apology", "supplier_refund", "supplier_cancel"]


def test_supplier_failure_before_capture_cancels_the_authorization(world: tuple[Kanjo, str, Path]) -> None:
    app, _url, _home = world
    place_order(app, "R50-2", 2_000)
    result = app.shipping.supplier_failure("R50-2", confirmed=True)
    assert result.state == "canceled" and result.refund == 0
    detail = app.orders.detail("R50-2")
    assert detail.order_status == OrderStatus.CANCELED.label and detail.payment_status == "承認取消済"


def test_marketplace_orders_use_the_same_desk_refunds_recorded_as_seller_central(
    world: tuple[Kanjo, str, Path],
) -> None:
    app, url, home = world
    app.imports.apply(
        FILE, [shop_order("MP-1", 2, total=4_000, kind="marketplace", payment_method="other", payment_label="Amazon")]
    )
    app.shipping.ship("MP-1", "sagawa", "512547514334")  # no capture: the money moves in Seller Central
    app.shipping.set_item_cost("MP-1", "SKU-1", 1_000)
    app.shipping.open_request("MP-1")
    assert {o.option.value: o.refund for o in app.shipping.options("MP-1")} == {
        "full": 4_000,
        "half": 2_000,
        "refuse": 0,
    }
    app.shipping.resolve("MP-1", "half", confirmed=True)
    app.shipping.return_received("MP-1")
    done = app.shipping.return_refund("MP-1", confirmed=True)
    assert "Seller Central" in done.message
    control = SandboxControl(url, secret=read_control_secret(sandbox_db_path(f"sqlite:///{home / 'kanjo.sqlite3'}")))
    assert not [c for c in control.calls() if "MP-1" in str(c.get("body", ""))]  # nothing sent to Amazon Pay
    control.close()
    summary = app.shipping.summary("MP-1")
    assert summary["net_result"] == 4_000 - 2_000 - 0 - 1_000 + 0
