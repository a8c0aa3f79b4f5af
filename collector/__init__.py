"""Collector: agentless scraping of Prometheus/OpenMetrics targets.

Data flow (one scrape loop per target)::

    discovery (static | file_sd | platform)  ->  targets (relabel_configs)  ->  ScrapeLoop
        -> fetch (Accept: OpenMetrics, then text 0.0.4; gzip; deadline; body limit)
        -> parse (collector.exposition, worker thread) -> ScrapeCache (series_key -> ref, honor_labels,
           metric_relabel_configs, limits, staleness) -> Appender.append (one call per scrape)

The scrape manager is one kind of metric source (``base.MetricSource``: ``start``/``stop``, appending to the
Appender it was built with); platforms offer others (``platforms.factory.platform_sources``), and the server
assembly starts and stops them all in one list.

Public modules: ``base`` (MetricSource), ``manager`` (ScrapeManager), ``api`` (targets_router), ``push``
(remote write and OTLP/HTTP receivers: PushIngest, push_router), ``config``,
``relabel``, ``presets`` (router_relabel_rules), ``discovery``, ``targets``, ``status``, ``errors``,
``exposition``. Nothing is imported here so that importing a submodule stays cheap.
"""
