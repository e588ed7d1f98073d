"""Canned responses: a service's ready answers, managed by leads, inserted by counsellors."""
