"""A CF client nobody here wrote (PyPI ``cloudfoundry-client``) against the simulator: it logs in through the
simulated UAA with user credentials, lists v3 orgs, spaces and apps, restarts an app and scales a process; the
assertions read the local platform's real processes, not the answers."""

from __future__ import annotations

from cloudfoundry_client.client import CloudFoundryClient

from tests.platforms.cf_sim.conftest import Sim, poll


def test_cloudfoundry_client_logs_in_lists_restarts_and_scales(sim: Sim) -> None:
    client = CloudFoundryClient(sim.cf.cc_url, verify=False)
    client.init_with_user_credentials("admin", sim.cf.password("admin"))
    assert sorted(o["name"] for o in client.v3.organizations.list()) == ["acme", "globex"]
    assert len(list(client.v3.spaces.list())) == len(sim.cf.foundation.spaces)
    acme = next(o for o in client.v3.organizations.list(names="acme"))
    web = next(iter(client.v3.apps.list(names="web", organization_guids=acme["guid"])))
    local = sim.cf.foundation.app_by_guid(web["guid"])
    platform = sim.cf.platform
    assert local is not None and platform is not None and local.local_app == "web-acme-prod"

    before = {i.index: i.pid for i in platform.instances(local.local_app)}
    client.v3.apps.restart(web["guid"])
    after = poll(
        lambda: (
            (now := platform.instances(local.local_app))
            and all(i.state == "RUNNING" and i.pid not in (None, before[i.index]) for i in now)
            and now
        ),
        30,
        "every web instance restarted",
    )
    assert sorted(i.index for i in after) == sorted(before)

    process = next(iter(client.v3.processes.list(app_guids=web["guid"], types="web")))
    url = f"{sim.cf.cc_url}/v3/processes/{process['guid']}/actions/scale"
    client.v3.processes._post(url, data={"instances": 3})
    poll(
        lambda: (
            len(now := platform.instances(local.local_app)) == 3 and all(i.state == "RUNNING" for i in now)
        ),
        30,
        "3 RUNNING web instances",
    )
    assert client.v3.processes.get(process["guid"])["instances"] == 3
    client.v3.processes._post(url, data={"instances": 2})
    assert len(platform.instances(local.local_app)) == 2
