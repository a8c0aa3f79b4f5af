"""Log pipeline: syslog/RELP ingest into a durable spool, then parse, enrich, patterns, search, live tail.

``receivers`` (RELP, syslog TCP/UDP/TLS) append to ``spool`` before they ack; ``pipeline.build_pipeline``
composes the stages the ``receivers.consumer`` loop runs over each spooled batch; ``search`` holds the stores
(tantivy, Elasticsearch) and ``api`` the search and tail HTTP routes. ``paramedic.logs`` wires it together.
"""
