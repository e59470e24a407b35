"""`yakuba provision`: Synapse and the roll-call roster made to match the org chart
(config) and the staff list (CSV), with personnel moves, idempotent, with a dry run."""
