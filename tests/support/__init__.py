"""Helpers shared by several test directories (the reference tools)."""
