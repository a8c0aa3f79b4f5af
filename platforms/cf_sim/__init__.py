"""A CF-compatible *simulation* of a Cloud Foundry foundation, for the demo and the tests.

No Cloud Foundry can run on a developer machine, so this package puts the local platform's real processes
(HAProxy router, supervisord cells, rsyslog, the sample app) behind the APIs a foundation exposes: CC API v3,
UAA, Log Cache, gorouter- and Diego-named metrics, syslog drains in CF's format. It is **not** Cloud Foundry:
every response it serves is checked against the official CC API v3 examples (tests), and a CF client nobody
here wrote (``cloudfoundry-client``) talks to it. The Cloud Foundry adapter (``platforms.cloudfoundry``)
never imports this package; it only speaks HTTP to it, as to a real foundation.

:mod:`platforms.cf_sim.foundation` is the shared model: which orgs and spaces exist and which local app
backs each CF app (names are unique per space only; GUIDs everywhere).
"""
