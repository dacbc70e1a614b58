"""Find a Java runtime that can run the pinned QuestDB jar."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from qdbtools.exceptions import JavaNotFoundError

__all__ = ["JavaRuntime", "find_java", "java_version"]

log = logging.getLogger(__name__)

JVM_DIR = Path("/usr/lib/jvm")
_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable and its major version."""

    executable: Path
    major: int


@functools.lru_cache(maxsize=64)
def java_version(executable: Path) -> int | None:
    """Major version printed by ``java -version``, or None when it does not run."""
    try:
        result = subprocess.run([str(executable), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(result.stderr + result.stdout)
    if result.returncode != 0 or not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(env: Mapping[str, str]) -> Iterator[tuple[str, Path]]:
    java_home = env.get("JAVA_HOME")
    if java_home:
        yield "JAVA_HOME", Path(java_home) / "bin" / "java"
    if JVM_DIR.is_dir():
        jdks = {(p / "bin" / "java").resolve() for p in JVM_DIR.iterdir() if (p / "bin" / "java").exists()}
        # Newest first, by what each one says it is.
        for java in sorted(jdks, key=lambda j: (java_version(j) or 0, str(j)), reverse=True):
            yield str(JVM_DIR), java
    on_path = shutil.which("java", path=env.get("PATH") or os.defpath)
    if on_path:
        yield "PATH", Path(on_path)


def find_java(minimum: int, env: Mapping[str, str] | None = None) -> JavaRuntime:
    """Return the first Java of at least ``minimum``: JAVA_HOME, then /usr/lib/jvm, then PATH.

    Raises
    ------
    JavaNotFoundError
        Listing every candidate checked and what it was.
    """
    env = os.environ if env is None else env
    checked: list[str] = []
    for source, executable in _candidates(env):
        if not executable.exists():
            checked.append(f"{source}: {executable} does not exist")
            continue
        major = java_version(executable)
        if major is None:
            checked.append(f"{source}: {executable} did not run 'java -version'")
        elif major < minimum:
            checked.append(f"{source}: {executable} is Java {major}")
        else:
            found = {"java": str(executable), "major": major}
            log.debug("using java %s (major %s)", executable, major, extra=found)
            return JavaRuntime(executable, major)
    details = "; ".join(checked) if checked else "no java in JAVA_HOME, /usr/lib/jvm or PATH"
    raise JavaNotFoundError(
        f"QuestDB needs Java {minimum} or newer; checked {details}. Install a JDK {max(minimum, 25)} "
        "(e.g. Temurin) and set JAVA_HOME to it."
    )
