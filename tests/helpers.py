"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from core.app import Kanjo
from core.domain import OrderKind
from core.services.orders import LineItem


def place_order(
    app: Kanjo,
    number: str,
    total: int = 5_000,
    *,
    kind: OrderKind = OrderKind.NORMAL,
    instrument: str = "card",
    ordered_at: datetime | None = None,
    pending: bool = False,
    extended_expiry: bool = True,
) -> None:
    """The buyer checks out on the sandbox and the order arrives in the store."""
    control = app.gateway().control
    assert control is not None
    placed = control.checkout(
        number=number,
        total=total,
        kind=kind.value,
        instrument=instrument,
        ordered_at=ordered_at,
        pending=pending,
        extended_expiry=extended_expiry,
    )
    app.orders.receive_checkout(
        number=number,
        kind=kind,
        charge_permission_id=placed["chargePermissionId"],
        charge_id=placed["chargeId"],
        items=[LineItem("テスト商品", total, 1, total // 2)],
        ordered_at=ordered_at,
    )


def table_counts(url: str) -> dict[str, int]:
    """Rows in every table of the store at ``url`` (each of the ORM's tables), by table name."""
    from sqlalchemy import func, select

    from core.db.engine import make_engine
    from core.db.schema import Base

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t.name: int(connection.execute(select(func.count()).select_from(t)).scalar_one())
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``kanjo ARGS`` in process: its exit code, and what it printed on stdout and stderr."""
    from core.cli import main

    capsys.readouterr()  # only this command's output
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """``kanjo ARGS --json``, which must succeed: its parsed output."""
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)
