"""The lines both demos' banners share: Paramedic's alerting, admin access, notification sinks and state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramedic.demo._options import data_dir_flag

__all__ = ["service_lines"]


def service_lines(record: dict[str, Any], data_dir: Path) -> list[str]:
    api = record["api_url"]
    return [
        f"  alerts             {api}/api/v2/alerts   (amtool --alertmanager.url {api} alert query)",
        f'  admin API token    {record["admin_token_file"]}   (curl -H "Authorization: Bearer $(cat '
        f'{record["admin_token_file"]})" ...; amtool --http.config.file {record["amtool_config"]} ...)',
        f"  web UI login       {api}/login   (user:password in {record['admin_credentials_file']})",
        f"  space login        {api}/login   (user:password in {record['space_credentials_file']}; "
        f"sees space {record['space_tenant']} only)",
        f"  mail (SMTP sink)   127.0.0.1:{record['smtp_port']} -> {record['mail_dir']}   "
        f"(paramedic demo mail{data_dir_flag(data_dir)})",
        f"  webhooks           {record['webhook_url']} -> {record['webhook_dir']}",
        f"  logs and state     {data_dir}",
    ]
