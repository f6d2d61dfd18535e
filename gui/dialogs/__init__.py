"""Dialogs for the payment operations of issue 4 (point 10): amount change, refund, cancel,
payment-method change and 入金日取消, plus the bar of buttons that opens them."""
