"""`yakuba backup` and `yakuba restore`: one archive with the store, every bot's E2EE
store and cross-signing keys, and the appservice's tokens (see bots.backup.snapshot for
what is in it, bots.backup.archive for its format, bots.backup.restore for the restore).
"""

from bots.backup.archive import ArchiveError, Manifest
from bots.backup.restore import RestoreError, RestoreResult, restore_backup
from bots.backup.sealing import ArchiveKey, KeyProblem
from bots.backup.snapshot import BackupError, BackupResult, create_backup

__all__ = [
    "ArchiveError",
    "ArchiveKey",
    "BackupError",
    "BackupResult",
    "KeyProblem",
    "Manifest",
    "RestoreError",
    "RestoreResult",
    "create_backup",
    "restore_backup",
]
