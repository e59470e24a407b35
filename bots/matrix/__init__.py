"""The Matrix side: sessions, encryption keys, sending, syncing (I/O lives here only)."""
