"""Metrics (and OTLP logs) in by push: the receivers a sender writes to instead of being scraped.

    POST /api/v1/write            remote write 1.0/2.0 -> remote_write.decode_remote_write --+
    POST /api/v1/otlp/v1/metrics  OTLP/HTTP metrics -> otlp_metrics.decode_otlp_metrics ----+-> PushIngest
    POST /api/v1/otlp/v1/logs     OTLP/HTTP logs -> log_pipeline.otlp.otlp_lines -> the log spool

Public modules: ``api`` (push_router), ``ingest`` (PushIngest, check_tenancy), ``remote_write``,
``otlp_metrics``, ``otlp_names``, ``otlp_body``, ``model``, ``errors``. The protocol modules are sans I/O
(bytes and headers in, series or a :class:`~collector.push.errors.PushRefusedError` out); ``api`` does
the I/O.
"""
