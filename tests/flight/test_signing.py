"""MAVLink 2 signing keys from the command line: 64 hex digits or a one-line error."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.signing import key_from_hex
from rackscan.cli import main


@pytest.mark.parametrize("text,expected", [
    (None, None),
    ("", None),
    ("00" * 32, bytes(32)),
    ("AB" * 32, b"\xab" * 32),
    ("ab" * 31, r"--signing-key-hex: expected 64 hex digits \(a 32-byte key\), got 62 characters$"),
    ("ab" * 33, "got 66 characters$"),
    ("zz" * 32, "got 64 characters that are not all hex$"),
    ("abc", "got 3 characters that are not all hex$"),
])
def test_a_key_is_64_hex_digits(text, expected):
    if isinstance(expected, str):
        with pytest.raises(FlightError, match=expected):
            key_from_hex(text)
    else:
        assert key_from_hex(text) == expected


@given(st.binary(min_size=32, max_size=32), st.booleans())
def test_any_key_spelled_in_hex_reads_back(key, upper):
    text = key.hex().upper() if upper else key.hex()
    assert key_from_hex(text) == key


@pytest.mark.parametrize("verb", [["sim"], ["fly", "--record", "unused-bundle"]])
def test_a_bad_key_stops_the_verb_with_one_line(verb, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*verb, "--signing-key-hex", "not-a-key"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--signing-key-hex: expected 64 hex digits" in err
    assert not (tmp_path / "unused-bundle").exists()  # nothing recorded
