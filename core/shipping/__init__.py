"""Shipping and the cancellation desk (issue 15; R24, R44–R50, R61)."""
