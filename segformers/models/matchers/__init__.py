"""Registered matchers."""
