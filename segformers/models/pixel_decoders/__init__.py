"""Registered pixel decoders."""
