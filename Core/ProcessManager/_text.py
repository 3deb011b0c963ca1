"""Incremental decoding: a character split across two reads is never corrupted."""

from __future__ import annotations

import codecs

DEFAULT_ENCODING = "utf-8"


# Encoding names already looked up (every call passes one: skip the codec registry).
_known_encodings = {DEFAULT_ENCODING}


def check_encoding(encoding: object) -> str:
    """Return the encoding name, or raise ValueError naming the cause."""
    if not isinstance(encoding, str):
        raise ValueError(f"encoding must be a str, not {type(encoding).__name__}")
    if encoding not in _known_encodings:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding: {encoding!r}") from None
        if len(_known_encodings) < 64:
            _known_encodings.add(encoding)
    return encoding


def decode_prefix(data: bytes | bytearray, encoding: str, final: bool) -> tuple[str, int]:
    """Decode ``data``; unless ``final``, leave out an incomplete trailing
    character.  Returns (text, bytes consumed) so a reader keeps the rest for
    its next read."""
    if not data:
        return "", 0
    if final:
        return data.decode(encoding, "replace"), len(data)
    try:
        # Strict decoding fails on an incomplete trailing character (and on
        # invalid bytes): when it succeeds, everything is whole.
        return data.decode(encoding), len(data)
    except UnicodeDecodeError:
        pass
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(data, final=final)
    pending = len(decoder.getstate()[0])
    return text, len(data) - pending


class LineDecoder:
    """Bytes in, whole lines out; the partial last line is kept until more
    arrives or flush() is called."""

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._partial = ""

    @property
    def partial(self) -> str:
        return self._partial

    def feed(self, data: bytes) -> list[str]:
        """Decode ``data`` and return the lines it completes (with their "\\n")."""
        text = self._partial + self._decoder.decode(data)
        # Split on "\n" only: str.splitlines would also split on \r, \f, \x1c...
        head, newline, self._partial = text.rpartition("\n")
        if not newline:
            return []
        return [line + "\n" for line in head.split("\n")]

    def flush(self) -> str:
        """Return and forget the partial line."""
        text, self._partial = self._partial, ""
        return text

    def finish(self) -> str:
        """End of stream: whatever is left, bad trailing bytes replaced."""
        return self.flush() + self._decoder.decode(b"", final=True)
