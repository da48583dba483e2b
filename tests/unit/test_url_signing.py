"""Signed, expiring download URLs and the generated signing key (SYS-REQ-016).

A download URL works without other credentials, so its signature is the whole of its protection: any change to
it, the artifact, the method or the expiry must fail as SIGNATURE_INVALID, checked before expiry so that a forged
URL learns nothing; a genuine one works until (not at) its expiry; keys rotate.
"""

from __future__ import annotations

import base64
import datetime
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pluggably.core.artifacts.signing import UrlSigner
from pluggably.core.errors import SignatureInvalidError, UrlExpiredError
from pluggably.files.signing_key import KEY_FILE, generated_signing_key
from pluggably.settings import MIN_SIGNING_KEY_CHARS

OLD_KEY = b"old-key-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_KEY = b"new-key-0123456789abcdefghijklmnopqrstuvwxyz"
NAME = "artifacts/018f3a2b4c5d0123456789abcdef"
OTHER_NAME = "artifacts/018f3a2b4c5d0fedcba987654321"
EXPIRES = datetime.datetime(2030, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


def signer(*keys: bytes, now: datetime.datetime = EXPIRES - datetime.timedelta(minutes=5)) -> UrlSigner:
    return UrlSigner(keys, now=Clock(now))


def refusal(check: UrlSigner, signature: str, name: str = NAME, expires: datetime.datetime = EXPIRES) -> str:
    """The reason `check` refuses the URL with; fails the test when it accepts it."""
    with pytest.raises((SignatureInvalidError, UrlExpiredError)) as caught:
        check.verify(name, expires, signature)
    return caught.value.reason


def test_sys_req_016_a_genuine_signature_verifies_and_is_unpadded_base64url_of_an_hmac_sha256() -> None:
    check = signer(NEW_KEY)
    signature = check.sign(NAME, EXPIRES)
    check.verify(NAME, EXPIRES, signature)  # no error: the URL may be used now
    assert len(signature) == 43 and "=" not in signature and set(signature) <= set(BASE64URL)
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32  # a SHA-256's worth of bytes
    # Deterministic, and bound to the key: another key signs the same URL differently.
    assert check.sign(NAME, EXPIRES) == signature
    assert signer(OLD_KEY).sign(NAME, EXPIRES) != signature


def test_sys_req_016_every_character_of_a_signature_changed_to_any_other_is_signature_invalid() -> None:
    """Every position, every other base64url character: the text is compared, not its decoding, so even a last
    character that differs only in the bits base64 leaves unused is refused."""
    check = signer(NEW_KEY)
    signature = check.sign(NAME, EXPIRES)
    reasons = {
        (position, replacement): refusal(check, signature[:position] + replacement + signature[position + 1 :])
        for position in range(len(signature))
        for replacement in BASE64URL
        if replacement != signature[position]
    }
    assert len(reasons) == len(signature) * (len(BASE64URL) - 1)
    assert set(reasons.values()) == {"SIGNATURE_INVALID"}


def test_sys_req_016_every_bit_of_every_byte_of_a_signature_flipped_is_signature_invalid() -> None:
    check = signer(NEW_KEY)
    signature = check.sign(NAME, EXPIRES)
    for position in range(len(signature)):
        for bit in range(8):
            flipped = chr(ord(signature[position]) ^ (1 << bit))
            tampered = signature[:position] + flipped + signature[position + 1 :]
            assert refusal(check, tampered) == "SIGNATURE_INVALID", (position, bit)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: s[:-1], id="truncated-by-one"),
        pytest.param(lambda s: s[:20], id="truncated-by-half"),
        pytest.param(lambda s: s + "A", id="extended"),
        pytest.param(lambda s: s + s, id="doubled"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s + "=", id="padded"),
        pytest.param(lambda s: s + "==", id="padded-twice"),
        pytest.param(lambda s: base64.b64encode(base64.urlsafe_b64decode(s + "=")).decode(), id="standard-base64"),
        pytest.param(lambda s: s.swapcase(), id="case-swapped"),
        pytest.param(lambda s: s[:-1] + "é", id="non-ascii"),
        pytest.param(lambda s: s[:-1] + "\udcff", id="lone-surrogate"),
        pytest.param(lambda s: s + "\x00", id="nul-appended"),
        pytest.param(lambda s: " " + s, id="leading-space"),
    ],
)
def test_sys_req_016_malformed_signatures_are_signature_invalid(tamper) -> None:
    check = signer(NEW_KEY)
    signature = check.sign(NAME, EXPIRES)
    tampered = tamper(signature)
    assert tampered != signature
    assert refusal(check, tampered) == "SIGNATURE_INVALID"


def test_sys_req_016_a_signature_is_bound_to_its_artifact_method_and_expiry() -> None:
    check = signer(NEW_KEY)
    signature = check.sign(NAME, EXPIRES)
    # Another artifact's genuine signature does not open this one, nor this one's the other.
    assert refusal(check, check.sign(OTHER_NAME, EXPIRES)) == "SIGNATURE_INVALID"
    assert refusal(check, signature, name=OTHER_NAME) == "SIGNATURE_INVALID"
    # Another method: a signature made for a DELETE does not download, nor a GET's delete.
    with pytest.raises(SignatureInvalidError):
        check.verify(NAME, EXPIRES, check.sign(NAME, EXPIRES, method="DELETE"))
    with pytest.raises(SignatureInvalidError):
        check.verify(NAME, EXPIRES, signature, method="DELETE")
    # Another expiry: moving it later (to keep a URL alive) or earlier both fail.
    for moved in (EXPIRES + datetime.timedelta(seconds=1), EXPIRES + datetime.timedelta(days=365)):
        assert refusal(check, signature, expires=moved) == "SIGNATURE_INVALID"
    assert refusal(check, signature, expires=EXPIRES - datetime.timedelta(seconds=1)) == "SIGNATURE_INVALID"
    assert refusal(check, check.sign(NAME, EXPIRES + datetime.timedelta(hours=1))) == "SIGNATURE_INVALID"


def test_sys_req_016_expiry_boundary_valid_until_one_second_before_expired_at_and_after() -> None:
    clock = Clock(EXPIRES - datetime.timedelta(seconds=1))
    check = UrlSigner([NEW_KEY], now=clock)
    signature = check.sign(NAME, EXPIRES)
    check.verify(NAME, EXPIRES, signature)  # one second before: valid

    clock.now = EXPIRES - datetime.timedelta(microseconds=1)
    check.verify(NAME, EXPIRES, signature)  # still before

    for now in (EXPIRES, EXPIRES + datetime.timedelta(microseconds=1), EXPIRES + datetime.timedelta(days=3)):
        clock.now = now
        with pytest.raises(UrlExpiredError) as caught:
            check.verify(NAME, EXPIRES, signature)
        assert caught.value.reason == "URL_EXPIRED", now
        assert not isinstance(caught.value, SignatureInvalidError)


def test_sys_req_016_a_tampered_and_expired_url_says_signature_invalid_not_expired() -> None:
    """The signature is checked first, so a forger never learns that a URL would have expired anyway."""
    check = UrlSigner([NEW_KEY], now=Clock(EXPIRES + datetime.timedelta(hours=2)))
    signature = check.sign(NAME, EXPIRES)
    assert refusal(check, signature) == "URL_EXPIRED"  # the genuine expired URL: its holder learns it expired
    tampered = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert refusal(check, tampered) == "SIGNATURE_INVALID"
    assert refusal(check, signature, name=OTHER_NAME) == "SIGNATURE_INVALID"
    assert refusal(check, "") == "SIGNATURE_INVALID"
    earlier = EXPIRES - datetime.timedelta(hours=1)
    assert refusal(check, signature, expires=earlier) == "SIGNATURE_INVALID"


def test_sys_req_016_rotation_first_key_signs_every_key_verifies() -> None:
    signed_with_old = signer(OLD_KEY).sign(NAME, EXPIRES)
    rotated = signer(NEW_KEY, OLD_KEY)
    # URLs signed before the rotation keep working until they run out...
    rotated.verify(NAME, EXPIRES, signed_with_old)
    # ...while new URLs are signed with the new key, which the old key alone does not accept.
    signed_now = rotated.sign(NAME, EXPIRES)
    assert signed_now == signer(NEW_KEY).sign(NAME, EXPIRES) != signed_with_old
    rotated.verify(NAME, EXPIRES, signed_now)
    assert refusal(signer(OLD_KEY), signed_now) == "SIGNATURE_INVALID"
    # The old key dropped from the list: its URLs stop working.
    assert refusal(signer(NEW_KEY), signed_with_old) == "SIGNATURE_INVALID"
    # Order matters only for signing: [old, new] still verifies URLs of both.
    signer(OLD_KEY, NEW_KEY).verify(NAME, EXPIRES, signed_now)
    assert signer(OLD_KEY, NEW_KEY).sign(NAME, EXPIRES) == signed_with_old


def test_sys_req_016_a_url_signed_by_a_key_no_longer_listed_fails_even_when_expired() -> None:
    retired = b"retired-key-0123456789abcdefghijklmnop"
    signature = signer(retired).sign(NAME, EXPIRES)
    late = UrlSigner([NEW_KEY, OLD_KEY], now=Clock(EXPIRES + datetime.timedelta(days=1)))
    assert refusal(late, signature) == "SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "keys", [[], (), [b""], [NEW_KEY, b""]], ids=["empty-list", "empty-tuple", "empty-key", "one-empty"]
)
def test_sys_req_016_signing_without_a_usable_key_is_refused(keys) -> None:
    with pytest.raises(ValueError, match="at least one non-empty key"):
        UrlSigner(keys)


# --- the generated key --------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sys_req_016_generated_signing_key_is_a_private_file_in_a_private_folder(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "data" / "secrets"
    key = generated_signing_key(secrets_dir)
    key_file = secrets_dir / KEY_FILE
    assert mode(key_file) == 0o600
    assert mode(secrets_dir) == 0o700
    assert key_file.read_text().strip() == key
    # Long enough to pass as a configured key, and nothing left behind but the key itself.
    assert len(key) >= MIN_SIGNING_KEY_CHARS
    assert [p.name for p in secrets_dir.iterdir()] == [KEY_FILE]


def test_sys_req_016_generated_signing_key_is_reused_so_urls_survive_a_restart(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    first = generated_signing_key(secrets_dir)
    before = UrlSigner([first.encode()]).sign(NAME, EXPIRES)
    second = generated_signing_key(secrets_dir)
    assert second == first
    UrlSigner([second.encode()], now=Clock(EXPIRES - datetime.timedelta(hours=1))).verify(NAME, EXPIRES, before)
    assert mode(secrets_dir / KEY_FILE) == 0o600


def test_sys_req_016_two_data_directories_get_distinct_keys(tmp_path: Path) -> None:
    one = generated_signing_key(tmp_path / "one" / "secrets")
    two = generated_signing_key(tmp_path / "two" / "secrets")
    assert one != two
    assert refusal(signer(two.encode()), signer(one.encode()).sign(NAME, EXPIRES)) == "SIGNATURE_INVALID"


def test_sys_req_016_gateways_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: generated_signing_key(secrets_dir), range(16)))
    assert len(keys) == 1
    assert [p.name for p in secrets_dir.iterdir()] == [KEY_FILE]  # no partial files left


@pytest.mark.parametrize("text", ["", "\n", "  \n\t"], ids=["empty", "newline", "whitespace"])
def test_sys_req_016_an_empty_key_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / KEY_FILE).write_text(text)
    with pytest.raises(ValueError) as caught:
        generated_signing_key(secrets_dir)
    assert str(secrets_dir / KEY_FILE) in str(caught.value)
    assert (secrets_dir / KEY_FILE).read_text() == text  # not silently replaced: URLs signed before would break
