"""The short anonymous survey offered after a contact."""
