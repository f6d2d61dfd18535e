"""Amazon Pay API v2: request signing, HTTP client and shared wire-format helpers."""
