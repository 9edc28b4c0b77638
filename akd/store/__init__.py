"""SQLite storage: one writer connection, reader connections, named migrations."""
