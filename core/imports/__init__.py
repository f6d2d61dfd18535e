"""Reading and writing shops' order files (issue 11). Pure Python: no Qt, no database."""
