"""The Hugging Face cache's layout: which snapshot of a `models--{org}--{name}` repo is described."""

from __future__ import annotations

import os
from pathlib import Path

HF_REPO_PREFIX = "models--"


def _cache_snapshot(repo: Path) -> tuple[Path, str] | None:
    """The snapshot `refs/main` names (else the newest) and the ref naming it (else its commit)."""
    snapshots = repo / "snapshots"
    refs = repo / "refs"
    try:
        main = (refs / "main").read_text().strip()
    except OSError:
        main = ""
    if main and "/" not in main and not main.startswith(".") and (snapshots / main).is_dir():
        return snapshots / main, "main"
    try:
        with os.scandir(snapshots) as entries:
            candidates = [(e.stat().st_mtime, e.name) for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return None
    if not candidates:
        return None
    commit = max(candidates)[1]
    ref_names = []
    for ref in sorted(refs.rglob("*")) if refs.is_dir() else ():
        try:
            if ref.is_file() and ref.read_text().strip() == commit:
                ref_names.append(ref.relative_to(refs).as_posix())
        except OSError:
            continue
    return snapshots / commit, ref_names[0] if ref_names else commit
