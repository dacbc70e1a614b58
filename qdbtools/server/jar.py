"""Get the pinned QuestDB server jar from Maven Central, into a user cache directory."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qdbtools.exceptions import JarNotFoundError

__all__ = [
    "QUESTDB_ARTIFACT",
    "QUESTDB_JAR_SHA256",
    "QUESTDB_VERSION",
    "JarInfo",
    "cache_dir",
    "ensure_jar",
    "inspect_jar",
    "sha256_of",
]

log = logging.getLogger(__name__)

#: The one pinned server version. 9.3.4 is the newest release Maven Central serves
#: (checked 2026-11-28; no 10.x is published there, so QWP is not available).
QUESTDB_VERSION = "9.3.4"
QUESTDB_ARTIFACT = f"org.questdb:questdb:{QUESTDB_VERSION}:jar"
#: SHA-256 of questdb-9.3.4.jar as served by Maven Central.
QUESTDB_JAR_SHA256 = "939bc53ab22f93dbaa6545143a6e7c536d4904c07b7f2d381e8eef10436be062"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$QDBTOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/qdbtools``, else ``~/.cache/qdbtools``."""
    env = os.environ if env is None else env
    if env.get("QDBTOOLS_CACHE_DIR"):
        return Path(env["QDBTOOLS_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "qdbtools"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_jar(env: Mapping[str, str] | None = None, *, mvn: str | None = None) -> Path:
    """Return the path of a verified QuestDB server jar, downloading it when needed.

    ``QDBTOOLS_QUESTDB_JAR`` names a jar to use as is (any version; not checksummed).
    Otherwise the pinned version is taken from the cache, or fetched with
    ``mvn dependency:copy`` and checked against :data:`QUESTDB_JAR_SHA256`.

    Raises
    ------
    JarNotFoundError
        When the named jar is missing, Maven is missing, the download fails or the
        checksum does not match; the message says how to fix it.
    """
    env = os.environ if env is None else env
    override = env.get("QDBTOOLS_QUESTDB_JAR")
    if override:
        jar = Path(override).expanduser()
        if not jar.is_file():
            raise JarNotFoundError(
                f"QDBTOOLS_QUESTDB_JAR={override} does not exist; point it at a questdb-<version>.jar "
                "or unset it to download the pinned version with Maven"
            )
        return jar

    target = cache_dir(env) / f"questdb-{QUESTDB_VERSION}.jar"
    if target.is_file() and sha256_of(target) == QUESTDB_JAR_SHA256:
        return target

    mvn = mvn or env.get("QDBTOOLS_MVN") or shutil.which("mvn", path=env.get("PATH"))
    if not mvn:
        raise JarNotFoundError(
            f"Maven (mvn) is needed to download {QUESTDB_ARTIFACT} from Maven Central and was not "
            "found on PATH; install Maven (e.g. apt-get install maven) or set QDBTOOLS_QUESTDB_JAR "
            "to a downloaded questdb jar"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        command = [
            mvn,
            "-B",
            "-q",
            "dependency:copy",
            f"-Dartifact={QUESTDB_ARTIFACT}",
            f"-DoutputDirectory={tmp}",
        ]
        log.info("downloading %s with Maven", QUESTDB_ARTIFACT, extra={"artifact": QUESTDB_ARTIFACT})
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JarNotFoundError(
                f"running {mvn} to download {QUESTDB_ARTIFACT} failed: {exc}; "
                "check Maven, or set QDBTOOLS_QUESTDB_JAR to a downloaded jar"
            ) from exc
        downloaded = Path(tmp) / f"questdb-{QUESTDB_VERSION}.jar"
        if result.returncode != 0 or not downloaded.is_file():
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise JarNotFoundError(
                f"Maven could not download {QUESTDB_ARTIFACT} (exit code {result.returncode}); "
                "check network access to Maven Central or set QDBTOOLS_QUESTDB_JAR to a "
                f"downloaded jar.\nmvn output:\n{tail}"
            )
        actual = sha256_of(downloaded)
        if actual != QUESTDB_JAR_SHA256:
            raise JarNotFoundError(
                f"checksum mismatch for {QUESTDB_ARTIFACT}: expected SHA-256 {QUESTDB_JAR_SHA256}, "
                f"got {actual}; the download is corrupt or not the pinned release. Clear "
                "~/.m2/repository/org/questdb and retry"
            )
        os.replace(downloaded, target)
    return target


@dataclass(frozen=True)
class JarInfo:
    """What a QuestDB jar is: its release and the oldest Java that loads it."""

    path: Path
    version: tuple[int, ...]
    min_java: int

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "unknown"


def inspect_jar(jar: Path) -> JarInfo:
    """Read the release (from the manifest) and the minimum Java (from ``ServerMain.class``).

    The class file's major version is ``44 + N`` for Java N, so the Java check follows
    whatever jar is in use rather than a table of QuestDB releases.
    """
    try:
        with zipfile.ZipFile(jar) as archive:
            header = archive.read("io/questdb/ServerMain.class")[:8]
            manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise JarNotFoundError(
            f"{jar} is not a QuestDB server jar ({exc}); unset QDBTOOLS_QUESTDB_JAR or point it "
            "at questdb-<version>.jar from Maven Central"
        ) from exc
    if header[:4] != b"\xca\xfe\xba\xbe":
        raise JarNotFoundError(f"{jar}: io/questdb/ServerMain.class is not a Java class file")
    version: tuple[int, ...] = ()
    for line in manifest.splitlines():
        if line.startswith("Implementation-Version:"):
            text = line.split(":", 1)[1].strip()
            version = tuple(int(p) for p in text.split("-")[0].split(".") if p.isdigit())
    return JarInfo(jar, version, int.from_bytes(header[6:8], "big") - 44)
