"""Kanjo core: the payment domain, store, Amazon Pay client and sandbox. Never imports Qt."""

__version__ = "0.1.0"
