"""The development TLS certificate for the Envoy TLS listener (SYS-NFR-008)."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pluggably.devcert import ensure_dev_certificate


def load(cert_file: Path, key_file: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_expired_pair(certs_dir: Path) -> None:
    """A pair that expired yesterday, under the names the gateway uses."""
    certs_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (certs_dir / "dev-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs_dir / "dev-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def test_certificate_is_valid_for_localhost_and_loopback_ip_SYS_NFR_008(tmp_path: Path) -> None:
    cert_file, key_file = ensure_dev_certificate(tmp_path / "certs")
    cert, key = load(cert_file, key_file)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.IPv4Address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now > datetime.timedelta(days=30)
    # The key is the certificate's key, and the signature checks out (self-signed).
    assert public_bytes(key.public_key()) == public_bytes(cert.public_key())  # type: ignore[arg-type]
    cert.verify_directly_issued_by(cert)


def test_private_key_is_readable_by_the_owner_only_SYS_NFR_008(tmp_path: Path) -> None:
    _, key_file = ensure_dev_certificate(tmp_path / "certs")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_valid_certificate_is_reused_SYS_NFR_008(tmp_path: Path) -> None:
    first = ensure_dev_certificate(tmp_path / "certs")
    contents = [p.read_bytes() for p in first]
    second = ensure_dev_certificate(tmp_path / "certs")
    assert second == first
    assert [p.read_bytes() for p in second] == contents
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == sorted(p.name for p in first)  # no leftovers


def test_expired_certificate_is_replaced_SYS_NFR_008(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    write_expired_pair(certs)
    old_cert = (certs / "dev-cert.pem").read_bytes()
    cert_file, key_file = ensure_dev_certificate(certs)
    assert cert_file.read_bytes() != old_cert
    cert, key = load(cert_file, key_file)
    assert cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC)
    assert public_bytes(key.public_key()) == public_bytes(cert.public_key())  # type: ignore[arg-type]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_half_a_pair_is_replaced_by_a_matching_pair_SYS_NFR_008(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    cert_file, key_file = ensure_dev_certificate(certs)
    key_file.unlink()
    cert_file, key_file = ensure_dev_certificate(certs)
    cert, key = load(cert_file, key_file)
    assert public_bytes(key.public_key()) == public_bytes(cert.public_key())  # type: ignore[arg-type]


def test_unreadable_certificate_is_replaced_SYS_NFR_008(tmp_path: Path) -> None:
    (tmp_path / "dev-cert.pem").write_text("not a certificate")
    (tmp_path / "dev-key.pem").write_text("not a key")
    cert_file, key_file = ensure_dev_certificate(tmp_path)
    cert, key = load(cert_file, key_file)
    assert public_bytes(cert.public_key()) == public_bytes(key.public_key())
