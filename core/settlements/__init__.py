"""Settlements (issue 13): Amazon Pay's settlement reports read, kept and reconciled order by order."""
