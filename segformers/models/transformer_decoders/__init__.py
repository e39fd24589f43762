"""Registered transformer decoders."""
