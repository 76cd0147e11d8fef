"""Coverage-guided fuzzing of the HJ 212 codec with atheris (libFuzzer).

    make fuzz                                                  (60 s, corpus in fuzz/corpus)
    .venv/bin/python fuzz/fuzz_hj212.py -max_total_time=600 fuzz/corpus

Each input is cut into chunks (sizes taken from its first bytes), fed through ``Framer`` and every
frame through ``decode`` in strict and tolerant mode, with and without the appendix A.2 test key.
Properties checked on every input, any failure is a crash that libFuzzer saves as ``crash-*``:

* nothing raises except what the codec documents (``decode`` never raises at all);
* every byte fed comes out exactly once, in order, in a Frame or a Garbage event;
* ``ok`` is true exactly when ``error`` is None, and a frame that decodes ok re-encodes to a frame
  that decodes to the same header and CP pairs.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["envtrace.hj212"]):
    from envtrace.hj212 import Frame, Framer, HJ212Error, decode, encode

KEY = b"0" * 16


def check(data: bytes) -> None:
    cuts = [b % 64 + 1 for b in data[:8]] or [1]
    payload = data[8:]
    framer = Framer(max_frame=4096)
    events = []
    pos = i = 0
    while pos < len(payload):
        size = cuts[i % len(cuts)]
        events += framer.feed(payload[pos : pos + size])
        pos += size
        i += 1
    events += framer.flush()
    if b"".join(e.raw for e in events) != payload:
        raise AssertionError("the framer lost, duplicated or reordered bytes")
    for event in events:
        if not isinstance(event, Frame):
            continue
        for strict in (True, False):
            for key in (None, KEY):
                decoded = decode(event.raw, strict=strict, key=key)
                if decoded.ok is not (decoded.error is None):
                    raise AssertionError("ok disagrees with error")
                if decoded.error is not None and not isinstance(decoded.error, HJ212Error):
                    raise AssertionError(f"foreign error {decoded.error!r}")
                packet = decoded.packet
                if decoded.ok and packet is not None and key is None and strict:
                    try:
                        again = decode(encode(packet.header, packet.cp, max_segment=65536), strict=False)
                    except ValueError:
                        continue  # the encoder refuses what it would not emit (e.g. empty CP key)
                    if again.packet is not None and again.packet.cp != packet.cp:
                        raise AssertionError("re-encoding changed the CP pairs")


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
