"""Running the machine's tools (ip, nft, mount, debootstrap, ...) with one error path."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

from citysoc.core.errors import BoxError

log = logging.getLogger(__name__)


def run(
    argv: Sequence[str | Path],
    *,
    netns: str | None = None,
    check: bool = True,
    timeout: float = 600,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (inside network namespace ``netns`` if given); raise BoxError if it fails."""
    words = [str(word) for word in argv]
    if netns is not None:
        words = ["ip", "netns", "exec", netns, *words]
    log.debug("running %s", " ".join(words))
    try:
        done = subprocess.run(  # noqa: S603 - argv lists, never a shell
            words,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise BoxError(f"{words[0]} is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BoxError(f"{' '.join(words)} did not finish in {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BoxError(f"{' '.join(words)} failed ({done.returncode}): {detail}")
    return done
