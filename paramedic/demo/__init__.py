"""The demo: a real local platform (HAProxy, supervisord, node exporter, sample apps, load) watched by a
Paramedic server; ``paramedic demo`` (:mod:`paramedic.commands.demo`) parses its options and calls
:func:`run_demo`. With ``--platform cloudfoundry`` the platform is the simulated Cloud Foundry foundation
(:mod:`._run_cf`); what both demos share is :mod:`._launch`.

The demo owns every process it starts (each in its own session) and records them, with their ports, in
``<data-dir>/demo.json`` (:mod:`._record`). Start order (:mod:`._run`): platform (rsyslog -> supervisord ->
HAProxy -> node exporter) -> load generator -> notification sinks (SMTP + webhook,
``platforms.local.smtp_sink``) -> ``paramedic serve``; SIGINT/SIGTERM stop them by PID in the reverse order
(supervisord stops its instances).
Alerting (:mod:`._config`): the local rule pack, retimed for a demo (every group evaluated each scrape
interval, ``for:`` two intervals), routed to an email receiver (the SMTP sink, mails under
``<data-dir>/mail``) and a webhook receiver (bodies under ``<data-dir>/webhooks``).
The platform's rsyslog forwards app output and router access lines over RELP to Paramedic's ``--relp-port``,
as BOSH syslog-release does; it queues (on disk) until ``paramedic serve`` listens.
Remediation and ``paramedic demo deploy``: :mod:`.remediation`.
"""

from paramedic.demo._cf_apps import local_app_for
from paramedic.demo._config import DemoSinks, demo_config, demo_rules
from paramedic.demo._credentials import admin_token, admin_user, local_space_login, space_user
from paramedic.demo._output import DemoApiError, DemoError, Echo
from paramedic.demo._record import read_demo_record, running_demo_record
from paramedic.demo._run import APP_NAMES, DEFAULT_DATA_DIR, LOAD_RPS, PLATFORMS, DemoOptions, run_demo
from paramedic.demo.remediation import DemoDeploy, deploy

__all__ = [
    "APP_NAMES",
    "DEFAULT_DATA_DIR",
    "LOAD_RPS",
    "PLATFORMS",
    "DemoApiError",
    "DemoDeploy",
    "DemoError",
    "DemoOptions",
    "DemoSinks",
    "Echo",
    "admin_token",
    "admin_user",
    "demo_config",
    "demo_rules",
    "deploy",
    "local_app_for",
    "local_space_login",
    "read_demo_record",
    "run_demo",
    "running_demo_record",
    "space_user",
]
