"""The key that signs artifact download URLs when the settings give none: made once, kept in the data directory.

The file holds 256 random bits as base64url text, created with mode 0600 in
a folder with mode 0700, and is read again at every start, so that URLs
signed before a restart still work. Its text is a secret like the
configured ones: the caller adds it to the redactor.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

KEY_FILE = "artifact-signing.key"


def generated_signing_key(secrets_dir: Path) -> str:
    """The key in `secrets_dir`, created there first if there is none."""
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = secrets_dir / KEY_FILE
    if not path.exists():
        # Written whole under another name, then linked into place: never a partial key file, and of two
        # gateways starting at once, one key wins and both use it.
        partial = secrets_dir / f".{KEY_FILE}.{secrets.token_hex(4)}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(partial, path)
        finally:
            partial.unlink()
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty; delete it to have a new key made")
    return key
