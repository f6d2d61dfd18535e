"""Issue 13: settlements, the money view."""
