"""Log pipeline: syslog/RELP ingest, parsing, patterns and search (a later issue)."""
