"""Ed25519 note keys: key IDs, the verifier-key text form, PEM, and the published signed-note
examples (Go sumdb/note's PeterNeumann note, C2SP signed-note's example.com/foo note)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from envtrace.ledger import (
    InvalidKey,
    MalformedCheckpoint,
    SignatureError,
    SigningKey,
    VerifyingKey,
    note_key_id,
    open_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note documentation example: keys, text and the signed note.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# C2SP signed-note example key and note (as used in the spec's implementations' tests).
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def peter_key() -> SigningKey:
    blob = base64.b64decode(PETER_SKEY.split("+", 4)[4])  # the base64 itself may hold a '+'

    assert blob[0] == 0x01
    return SigningKey.from_raw(blob[1:])


def test_go_note_example_is_reproduced_byte_for_byte() -> None:
    key = peter_key()
    assert key.key_id("PeterNeumann").hex() == "c74f20a3"
    assert key.verifying_key("PeterNeumann").to_vkey() == PETER_VKEY
    assert sign_note(PETER_TEXT, key, "PeterNeumann") == PETER_NOTE


def test_go_note_example_opens() -> None:
    opened = open_note(PETER_NOTE, [VerifyingKey.from_vkey(PETER_VKEY)])
    assert opened.text == PETER_TEXT
    with pytest.raises(SignatureError):
        open_note(PETER_NOTE.replace("cryptography", "cryptographY"), [VerifyingKey.from_vkey(PETER_VKEY)])


def test_c2sp_example_note_opens() -> None:
    verifier = VerifyingKey.from_vkey(FOO_VKEY)
    assert verifier.name == "example.com/foo"
    assert open_note(FOO_NOTE, [verifier]).text == "This is an example message.\n"


def test_key_id_is_the_c2sp_recommended_hash() -> None:
    vk = VerifyingKey.from_vkey(PETER_VKEY)
    assert note_key_id("PeterNeumann", vk.raw).hex() == "c74f20a3"
    assert note_key_id("PeterNeumann2", vk.raw) != vk.key_id  # the name is hashed in


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hex
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # damaged key
        "PeterNeumann+c74f20a3+AhpuQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type byte 0x02
        "PeterNeumann+c74f20a3",
        "PeterNeumann",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(InvalidKey):
        VerifyingKey.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there", "nl\n", "ideographic\u3000space"])
def test_bad_key_names_are_refused(name: str) -> None:
    key = SigningKey.generate()
    with pytest.raises(InvalidKey):
        key.verifying_key(name)
    with pytest.raises(InvalidKey):
        sign_note("text\n", key, name)


def test_raw_round_trip() -> None:
    key = SigningKey.generate()
    again = SigningKey.from_raw(key.to_raw())
    assert again.public_raw == key.public_raw
    vk = key.verifying_key("log")
    assert VerifyingKey.from_raw("log", vk.raw) == vk
    assert VerifyingKey.from_vkey(vk.to_vkey()) == vk


@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_private_pem_round_trip(password: bytes | None) -> None:
    key = SigningKey.generate()
    pem = key.to_pem(password)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY" if password else b"-----BEGIN PRIVATE KEY")
    assert SigningKey.from_pem(pem, password).to_raw() == key.to_raw()
    assert SigningKey.from_pem(pem.decode(), password).to_raw() == key.to_raw()


def test_private_pem_with_the_wrong_password() -> None:
    pem = SigningKey.generate().to_pem(b"right")
    with pytest.raises(InvalidKey):
        SigningKey.from_pem(pem, b"wrong")
    with pytest.raises(InvalidKey):
        SigningKey.from_pem(pem)


def test_public_pem_round_trip() -> None:
    vk = SigningKey.generate().verifying_key("envtrace.example/log")
    pem = vk.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY")
    assert VerifyingKey.from_pem("envtrace.example/log", pem) == vk


def test_other_algorithms_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKey, match="not an Ed25519"):
        SigningKey.from_pem(private_pem)
    with pytest.raises(InvalidKey, match="not an Ed25519"):
        VerifyingKey.from_pem("log", public_pem)
    with pytest.raises(InvalidKey):
        VerifyingKey.from_pem("log", b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33, "x" * 32])
def test_raw_keys_must_be_32_bytes(raw: object) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.from_raw(raw)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        VerifyingKey("log", raw)  # type: ignore[arg-type]


def test_keys_are_immutable_and_private_material_is_not_shown() -> None:
    key = SigningKey.from_raw(bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(key)
    assert key.to_raw().hex() not in repr(key)
    with pytest.raises(AttributeError):
        key.public_raw = b""
    vk = key.verifying_key("log")
    with pytest.raises(AttributeError):
        vk.name = "other"
    assert vk.to_vkey() in repr(vk)


def test_verify_refuses_signatures_of_the_wrong_length() -> None:
    key = SigningKey.generate()
    vk = key.verifying_key("log")
    signature = key.sign(b"message")
    assert vk.verify(signature, b"message")
    assert not vk.verify(signature[:63], b"message")
    assert not vk.verify(signature + b"\x00", b"message")
    assert not vk.verify(signature, b"messagE")


def test_two_verifiers_with_the_same_name_and_id_are_ambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = SigningKey.from_raw(bytes(range(32)))
    note = sign_note("x\n", signer, "log")
    honest = signer.verifying_key("log")
    # a 4-byte key id collision cannot be searched for in a test: force one
    monkeypatch.setattr("envtrace.ledger.signing.note_key_id", lambda name, raw: honest.key_id)
    impostor = SigningKey.from_raw(bytes(range(1, 33))).verifying_key("log")
    assert impostor.key_id == honest.key_id
    assert impostor != honest
    with pytest.raises(InvalidKey, match="share"):
        open_note(note, [honest, impostor])
    assert open_note(note, [honest, honest]).verified_by == (honest,)


def test_sign_note_refuses_texts_that_would_not_parse() -> None:
    key = SigningKey.generate()
    for text in ("no newline", "blank\n\nline\n", "\nleading blank\n", "tab\there\n"):
        with pytest.raises(MalformedCheckpoint):
            sign_note(text, key, "log")


def test_verifier_keys_of_another_signature_type_are_refused() -> None:
    raw = VerifyingKey.from_vkey(PETER_VKEY).raw
    ecdsa_like = "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + raw).decode()
    with pytest.raises(InvalidKey, match="type 0x01"):
        VerifyingKey.from_vkey(ecdsa_like)


def test_verifying_keys_compare_by_name_and_key() -> None:
    key = SigningKey.from_raw(bytes(range(32)))
    a, b = key.verifying_key("log"), key.verifying_key("log")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, key.verifying_key("other")}) == 2
    assert a != "log"
    assert a != SigningKey.from_raw(bytes(32)).verifying_key("log")
