"""The life of one stored message (R51: every message is kept with its order)."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    DRAFT = "draft"  # stored, not (yet) handed to the mail server: the send was interrupted
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # the SMTP server could not be reached or refused it; the text is kept
    MANUAL = "manual"  # copied to the clipboard; the operator sends it from their own mail program

    @property
    def label(self) -> str:
        return MESSAGE_STATUS_LABELS[self]


MESSAGE_STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.DRAFT: "下書き",
    MessageStatus.SENT: "送信済",
    MessageStatus.FAILED: "送信失敗",
    MessageStatus.MANUAL: "手動送信",
}


def status_label(value: str) -> str:
    try:
        return MessageStatus(value).label
    except ValueError:
        return value
