"""The guided first day (issue 16 item 4): what the messages and links need, asked once."""
