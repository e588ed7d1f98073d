"""The annual-report figures, charts and CSV tables for supervisors."""
