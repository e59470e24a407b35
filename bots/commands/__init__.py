"""Chat commands: declared once (names, aliases, help, typed arguments), routed by the bots."""
