"""Checkpoints as C2SP signed notes: format, strict parsing, signing, opening, key rotation."""

from __future__ import annotations

import base64

import pytest

from envtrace.ledger import (
    EMPTY_ROOT,
    MAX_SIZE,
    MAX_TIMESTAMP,
    Checkpoint,
    CheckpointError,
    MalformedCheckpoint,
    SignatureError,
    SigningKey,
    WrongOrigin,
    add_signature,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)

ROOT8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
ORIGIN = "envtrace.example.gov.cn/log"
CHECKPOINT = Checkpoint(ORIGIN, 8, ROOT8, 1_700_000_000)
OLD = SigningKey.from_raw(bytes(range(32)))
NEW = SigningKey.from_raw(bytes(range(32, 64)))
WITNESS = SigningKey.from_raw(bytes(range(64, 96)))


def test_body_is_four_lines() -> None:
    assert CHECKPOINT.body() == (
        b"envtrace.example.gov.cn/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntime 1700000000\n"
    )


@pytest.mark.parametrize(
    "checkpoint",
    [
        CHECKPOINT,
        Checkpoint("o", 0, EMPTY_ROOT, 0),
        Checkpoint("省生态环境厅/监测/log", MAX_SIZE, b"\xff" * 32, MAX_TIMESTAMP),
    ],
)
def test_body_round_trip(checkpoint: Checkpoint) -> None:
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint
    assert Checkpoint.from_body(checkpoint.body().decode()) == checkpoint


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT8, 0),
        ("has space", 1, ROOT8, 0),
        ("new\nline", 1, ROOT8, 0),
        ("ideographic\u3000space", 1, ROOT8, 0),
        (ORIGIN, -1, ROOT8, 0),
        (ORIGIN, MAX_SIZE + 1, ROOT8, 0),
        (ORIGIN, True, ROOT8, 0),
        (ORIGIN, 1, ROOT8[:31], 0),
        (ORIGIN, 1, bytearray(ROOT8), 0),
        (ORIGIN, 1, ROOT8, -1),
        (ORIGIN, 1, ROOT8, MAX_TIMESTAMP + 1),
        (ORIGIN, 1, ROOT8, 1.5),
    ],
)
def test_checkpoint_fields_are_validated(fields: tuple[object, object, object, object]) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(*fields)  # type: ignore[arg-type]


def test_root_with_nonzero_padding_bits_is_refused() -> None:
    body = CHECKPOINT.body().decode().replace("Qyg=", "Qyh=")
    assert base64.b64decode("Qyh=") == base64.b64decode("Qyg=")  # same bytes, other text
    with pytest.raises(MalformedCheckpoint, match="canonical"):
        Checkpoint.from_body(body)


@pytest.mark.parametrize("digits", [21, 5000])
def test_numbers_with_too_many_digits_are_refused_before_conversion(digits: int) -> None:
    body = CHECKPOINT.body().decode().replace("\n8\n", "\n" + "9" * digits + "\n")
    with pytest.raises(MalformedCheckpoint, match="digits"):
        Checkpoint.from_body(body)
    body = CHECKPOINT.body().decode().replace("time 1700000000", "time " + "9" * digits)
    with pytest.raises(MalformedCheckpoint, match="digits"):
        Checkpoint.from_body(body)


def test_body_must_end_with_a_newline() -> None:
    with pytest.raises(MalformedCheckpoint, match="newline"):
        Checkpoint.from_body(CHECKPOINT.body()[:-1])


def test_body_must_be_utf8() -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.from_body(b"\xff\n8\n" + CHECKPOINT.body().split(b"\n", 2)[2])


def test_sign_and_open_round_trip() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    assert note.startswith(CHECKPOINT.body().decode() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(note, [OLD.verifying_key(ORIGIN)]) == CHECKPOINT
    assert open_checkpoint(note.encode(), [OLD.verifying_key(ORIGIN)]) == CHECKPOINT


def test_signature_line_carries_the_key_id_then_the_signature() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    blob = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
    assert len(blob) == 4 + 64
    assert blob[:4] == OLD.key_id(ORIGIN) == OLD.verifying_key(ORIGIN).key_id
    assert OLD.verifying_key(ORIGIN).verify(blob[4:], CHECKPOINT.body())


def test_wrong_key_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    with pytest.raises(SignatureError, match="no signature from a known key"):
        open_checkpoint(note, [NEW.verifying_key(ORIGIN)])
    with pytest.raises(SignatureError):
        open_checkpoint(note, [OLD.verifying_key("another.name")])
    with pytest.raises(SignatureError):
        open_checkpoint(note, [])


def test_key_rotation() -> None:
    old_vk, new_vk = OLD.verifying_key(ORIGIN), NEW.verifying_key(ORIGIN)
    before = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    later = Checkpoint(ORIGIN, 9, b"\x09" * 32, 1_700_000_600)
    during = add_signature(sign_checkpoint(later, OLD, ORIGIN), NEW, ORIGIN)
    after = sign_checkpoint(Checkpoint(ORIGIN, 10, b"\x0a" * 32, 1_700_001_200), NEW, ORIGIN)
    # old checkpoints stay verifiable with the old public key, alone or with the new one
    assert open_checkpoint(before, [old_vk]) == CHECKPOINT
    assert open_checkpoint(before, [old_vk, new_vk]) == CHECKPOINT
    # the overlap carries both signatures; either key suffices
    assert open_checkpoint(during, [old_vk]) == later
    assert open_checkpoint(during, [new_vk]) == later
    assert open_note(during, [old_vk, new_vk]).verified_by == (old_vk, new_vk)
    # after the rotation the old key alone no longer opens new checkpoints
    assert open_checkpoint(after, [new_vk]).size == 10
    with pytest.raises(SignatureError):
        open_checkpoint(after, [old_vk])


def test_unknown_signatures_are_ignored_and_reported() -> None:
    note = add_signature(sign_checkpoint(CHECKPOINT, OLD, ORIGIN), WITNESS, "witness.example.org")
    opened = open_note(note, [OLD.verifying_key(ORIGIN)])
    assert [s.key_name for s in opened.signatures] == [ORIGIN, "witness.example.org"]
    assert opened.verified_by == (OLD.verifying_key(ORIGIN),)
    both = [OLD.verifying_key(ORIGIN), WITNESS.verifying_key("witness.example.org")]
    assert len(open_note(note, both).verified_by) == 2


def test_a_failing_known_signature_rejects_the_whole_note() -> None:
    good = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    forged_line = sign_checkpoint(Checkpoint(ORIGIN, 9, ROOT8, 0), NEW, ORIGIN).split("\n\n")[1]
    note = good + forged_line
    with pytest.raises(SignatureError, match="does not verify") as info:
        open_checkpoint(note, [OLD.verifying_key(ORIGIN), NEW.verifying_key(ORIGIN)])
    assert info.value.key_name == ORIGIN
    assert info.value.key_id == NEW.key_id(ORIGIN)


def test_every_single_bit_flip_in_a_signed_checkpoint_is_caught() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN).encode()
    verifiers = [OLD.verifying_key(ORIGIN)]
    assert open_checkpoint(note, verifiers) == CHECKPOINT
    for position in range(len(note)):
        for bit in range(8):
            tampered = bytearray(note)
            tampered[position] ^= 1 << bit
            with pytest.raises(CheckpointError):
                open_checkpoint(bytes(tampered), verifiers)


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (b"\xffbad\n\n\xe2\x80\x94 k AAAAAAA=\n", "UTF-8"),
        ("text\n\n", "no signature line"),
        ("text\n\u2014 k AAAAAAA=\n", "no blank line"),
        ("text\n\n\u2014 k AAAA\n", "too short"),
        ("text\n\n\u2014 k+1 AAAAAAA=\n", "bad key name"),
        ("text\n\n\u2014 k AAAAAAA=\n\n", "no signature line"),
        ("text\n\n\u2014 k AAAAAAA=", "end with a newline"),
        ("te\x00xt\n\n\u2014 k AAAAAAA=\n", "control character"),
        ("text\n\n" + "\u2014 k AAAAAAA=\n" * 101, "more than 100"),
    ],
)
def test_malformed_notes(note: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedCheckpoint, match=reason):
        open_note(note, [OLD.verifying_key("k")])


def test_sixteen_signatures_are_accepted() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    for i in range(15):
        note = add_signature(note, WITNESS, f"witness{i}.example.org")
    assert open_checkpoint(note, [OLD.verifying_key(ORIGIN)]) == CHECKPOINT
    assert len(open_note(note, [OLD.verifying_key(ORIGIN)]).signatures) == 16


def test_add_signature_stops_at_the_limit() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    for i in range(99):
        note = add_signature(note, WITNESS, f"w{i}")
    assert len(open_note(note, [OLD.verifying_key(ORIGIN)]).signatures) == 100
    with pytest.raises(MalformedCheckpoint, match="at most 100"):
        add_signature(note, WITNESS, "one.too.many")


def test_a_key_that_signs_twice_is_listed_once() -> None:
    note = add_signature(sign_checkpoint(CHECKPOINT, OLD, ORIGIN), OLD, ORIGIN)
    opened = open_note(note, [OLD.verifying_key(ORIGIN)])
    assert len(opened.signatures) == 2
    assert opened.verified_by == (OLD.verifying_key(ORIGIN),)


def test_the_expected_origin_can_be_required() -> None:
    note = sign_checkpoint(CHECKPOINT, OLD, ORIGIN)
    verifiers = [OLD.verifying_key(ORIGIN)]
    assert open_checkpoint(note, verifiers, origin=ORIGIN) == CHECKPOINT
    other = sign_checkpoint(Checkpoint("envtrace.example.gov.cn/city-log", 8, ROOT8, 1), OLD, ORIGIN)
    with pytest.raises(WrongOrigin) as info:
        open_checkpoint(other, verifiers, origin=ORIGIN)
    assert (info.value.expected, info.value.actual) == (ORIGIN, "envtrace.example.gov.cn/city-log")
