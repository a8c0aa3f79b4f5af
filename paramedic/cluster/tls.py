"""The SSLContext of the etcd client from ``cluster.tls`` (CA and client certificate), with errors that name
the config key; never the key's bytes."""

from __future__ import annotations

import ssl
from pathlib import Path

from paramedic.cluster.config import EtcdTLS

__all__ = ["ClusterTLSError", "etcd_ssl_context"]


class ClusterTLSError(ValueError):
    """A ``cluster.tls`` file is missing or not a usable PEM."""


def etcd_ssl_context(cfg: EtcdTLS, base_dir: Path) -> ssl.SSLContext:
    """Verify etcd against ``ca_file`` alone (TLS 1.2 or newer; the system's CAs are not trusted: a publicly
    trusted certificate for etcd's name must not pass); present ``cert_file``/``key_file`` when set.
    Relative paths are read from ``base_dir`` (the config file's folder)."""
    try:  # with a cafile, only that CA is trusted (not the system's roots)
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(base_dir / cfg.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ClusterTLSError(f"cluster.tls.ca_file {cfg.ca_file}: cannot load the CA: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cfg.cert_file and cfg.key_file:
        try:
            ctx.load_cert_chain(str(base_dir / cfg.cert_file), str(base_dir / cfg.key_file))
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
            raise ClusterTLSError(
                f"cluster.tls.cert_file/key_file {cfg.cert_file}: cannot load the client certificate: {why}"
            ) from exc
    return ctx
