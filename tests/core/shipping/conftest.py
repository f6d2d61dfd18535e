"""A shop ready to ship and to answer customers: settings, an SMTP transport that records."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from core.app import Kanjo
from core.messages.mail import SmtpConfig


class RecordingSender:
    """The SMTP transport (outside Kanjo): keeps what would have gone to the server."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
        self.sent.append(message)

    def bodies(self) -> list[str]:
        return [str(m.get_content()) for m in self.sent]


@pytest.fixture
def shop(app: Kanjo) -> Kanjo:
    app.settings.save(shop_name="勘定商店", seller_token="A2KANJOTOKEN", shop_domain="shop.example.jp")
    app.set_operator_name("根本")
    return app


@pytest.fixture
def mail(shop: Kanjo) -> RecordingSender:
    shop.settings.save(smtp_host="smtp.example.jp", smtp_user="", smtp_from="shop@example.jp")
    sender = RecordingSender()
    shop.messages.sender = sender
    return sender
