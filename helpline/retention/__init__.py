"""Retention: what people said is purged once their conversation has been closed for longer than
the service's retention period; every figure of the reports stays (docs/privacy.md)."""
