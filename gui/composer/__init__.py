"""The message composer, the template editor and the SMTP settings (issue 5)."""
