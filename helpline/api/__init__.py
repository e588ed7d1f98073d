"""The staff JSON API (/api/v1): personal tokens, conversations, follow-up and report figures."""
