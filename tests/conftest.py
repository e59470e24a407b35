"""Shared fixtures. Integration fixtures (a real Synapse) live in tests/integration."""
