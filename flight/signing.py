"""MAVLink 2 signing keys as an operator gives them: 64 hex digits on the command line."""

from __future__ import annotations

from flight.errors import FlightError

KEY_BYTES = 32  # MAVLink 2 signs with a 32-byte secret key


def key_from_hex(text: str | None, *, option: str = "--signing-key-hex") -> bytes | None:
    """The key ``text`` spells (None where none is given); a one-line FlightError naming ``option``
    for anything but 64 hex digits."""
    if not text:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise FlightError(f"{option}: expected {2 * KEY_BYTES} hex digits (a {KEY_BYTES}-byte key), "
                          f"got {len(text)} characters{'' if key else ' that are not all hex'}")
    return key
