"""The tamper-evident audit log of security events."""
