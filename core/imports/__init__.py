"""Bringing a shop's orders in: its order exports (issue 11, R57, R58)."""
