"""Personal data: detection in text, and protection (redact, mask, hash, tokenize)."""
