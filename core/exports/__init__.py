"""Exports for the accountant (issue 13 item 5): orders, money movements and settlements as CSV or .xlsx."""
