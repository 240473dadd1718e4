"""Shared fixtures.  Lab (network-namespace) fixtures live in tests/lab/."""
