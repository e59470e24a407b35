"""Homeservers that federate with each other over TLS on loopback (a city and its
prefecture), for integration tests.

Each server's name is `localhost:PORT`, PORT being its TLS federation listener, so peers
connect there directly: no .well-known, no SRV, no DNS beyond localhost. The test makes a
CA and one server certificate per server (`cryptography`), and every server trusts that
CA only (`federation_custom_ca_list`, certificates verified). Synapse blocks loopback for
outbound federation by default: `ip_range_whitelist` opens 127.0.0.1 and ::1 only. Keys
are fetched from each server itself (`trusted_key_servers: []`), and a destination that
failed once (a peer still starting) is retried after a second, not Synapse's ten minutes.
Clients and the admin API stay on a plain-HTTP loopback listener (`SynapseConfig.url`).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bots.demo.synapse import SynapseConfig, free_port

#: what federation needs to get through quickly between test servers
_GENEROUS_FEDERATION = {
    "window_size": 1000,
    "sleep_limit": 1000,
    "sleep_delay": 1,
    "reject_limit": 10000,
    "concurrent": 100,
}


@dataclass(frozen=True)
class TestCA:
    """A certificate authority made for one test run; its key never leaves memory."""

    __test__ = False  # not a pytest test class

    cert_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, directory: Path) -> TestCA:
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yakuba test CA")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        path = directory / "ca.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(path, cert, key)

    def issue(self, directory: Path, host: str = "localhost") -> tuple[Path, Path]:
        """A server certificate for `host` (and 127.0.0.1, ::1): (cert path, key path)."""
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        names: list[x509.GeneralName] = [
            x509.DNSName(host),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = directory / "tls.crt", directory / "tls.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def federating_config(
    state_dir: Path, ca: TestCA, extra: dict[str, Any] | None = None
) -> SynapseConfig:
    """A homeserver named `localhost:PORT` that federates over TLS with the CA's other
    servers; clients use `SynapseConfig.url` (plain HTTP on another loopback port)."""
    client_port, federation_port = free_port(), free_port()
    while federation_port == client_port:
        federation_port = free_port()
    cert, key = ca.issue(state_dir / "tls")
    config: dict[str, Any] = {
        "listeners": [
            {
                "port": client_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            },
            {
                "port": federation_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": True,
                "x_forwarded": False,
                "resources": [{"names": ["federation"], "compress": False}],
            },
        ],
        "tls_certificate_path": str(cert),
        "tls_private_key_path": str(key),
        "federation_verify_certificates": True,
        "federation_custom_ca_list": [str(ca.cert_path)],
        # Synapse's default ip_range_blacklist blocks loopback for outbound federation; the
        # whitelist overrides it (federation_ip_range_blacklist must stay unset: when set,
        # that legacy key replaces the blocklist and federation ignores the whitelist)
        "ip_range_whitelist": ["127.0.0.1/32", "::1/128"],
        "trusted_key_servers": [],
        # one early failure (a peer still starting) must not back off for the default 10m
        "federation": {
            "destination_min_retry_interval": "1s",
            "destination_max_retry_interval": "2s",
        },
        "rc_federation": _GENEROUS_FEDERATION,
        **(extra or {}),
    }
    return SynapseConfig(
        state_dir=state_dir,
        port=client_port,
        server_name=f"localhost:{federation_port}",
        extra=config,
    )
