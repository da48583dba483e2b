"""A self-signed development certificate for the TLS listener (SAN localhost, 127.0.0.1)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEV_CERT_NAME = "dev-cert.pem"
DEV_KEY_NAME = "dev-key.pem"
VALIDITY = datetime.timedelta(days=365)


def ensure_dev_certificate(certs_dir: Path) -> tuple[Path, Path]:
    """Returns (cert, key) under `certs_dir`, creating them if either is missing or expired."""
    cert_file, key_file = certs_dir / DEV_CERT_NAME, certs_dir / DEV_KEY_NAME
    if cert_file.exists() and key_file.exists():
        try:
            existing = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except ValueError:
            existing = None  # unreadable: make a new pair
        if existing and existing.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1):
            return cert_file, key_file
    certs_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pluggably development certificate")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Write both beside their final names and rename: never half a pair.
    tmp_key, tmp_cert = key_file.with_suffix(".tmp"), cert_file.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp_key.replace(key_file)
    tmp_cert.replace(cert_file)
    return cert_file, key_file
