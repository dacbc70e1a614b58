"""I/O with a QuestDB server: SQL, HTTP, ingestion, visibility waits, error translation."""
