"""A managed local QuestDB: the pinned jar from Maven Central, run with a suitable Java."""

from qdbtools.server.jar import QUESTDB_JAR_SHA256, QUESTDB_VERSION, cache_dir, ensure_jar, inspect_jar
from qdbtools.server.java import JavaRuntime, find_java
from qdbtools.server.process import (
    LocalServer,
    ServerPorts,
    ServerState,
    free_ports,
    read_state,
    stop_background,
)

__all__ = [
    "QUESTDB_JAR_SHA256",
    "QUESTDB_VERSION",
    "JavaRuntime",
    "LocalServer",
    "ServerPorts",
    "ServerState",
    "cache_dir",
    "ensure_jar",
    "find_java",
    "free_ports",
    "inspect_jar",
    "read_state",
    "stop_background",
]
