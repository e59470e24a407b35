"""Where the shared alert samples are: ../shared/samples beside the repository (as the
workplace and CI lay it out), or YAKUBA_ALERT_SAMPLES."""

from __future__ import annotations

import os
from pathlib import Path


def samples_dir() -> Path:
    override = os.environ.get("YAKUBA_ALERT_SAMPLES")
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "samples"
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "shared" / "samples"  # reported as missing by the tests


SAMPLES = samples_dir()
