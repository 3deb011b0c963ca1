"""Output views made for agents: ANSI escapes removed, head and tail kept.

``strip_ansi`` removes the escape sequences a terminal interprets (colours,
cursor moves, window titles...), so that what is left is the text a person
would read.  ``head_tail`` shortens a long output to its beginning and its
end, with an explicit marker saying how many bytes were left out: an agent
sees that something is missing and how much, never a silent cut.
"""

from __future__ import annotations

import re

__all__ = ["ANSI_ESCAPE", "strip_ansi", "ansi_hold_back", "head_tail", "omitted_marker"]

# ECMA-48 escape sequences, in the order they must be tried:
#   CSI      ESC [ (or the 8-bit 0x9B), parameter bytes 0x30-0x3F, intermediate
#            bytes 0x20-0x2F, one final byte 0x40-0x7E: colours (ESC[01;34m),
#            erase (ESC[K), cursor moves, private modes (ESC[?2004h)
#   OSC      ESC ] ... ended by BEL or ST (ESC \\): window title, hyperlinks
#   DCS, SOS, PM, APC   ESC P / X / ^ / _ ... ended by ST
#   others   ESC, intermediate bytes, one final byte 0x30-0x7E: charset
#            selection (ESC(B), keypad modes (ESC=), save cursor (ESC7)...
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
_OSC = r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
_STRING = r"\x1b[PX^_][^\x1b]*\x1b\\"
_OTHER = r"\x1b[ -/]*[0-~]"
ANSI_ESCAPE = re.compile("|".join((_CSI, _OSC, _STRING, _OTHER)))

# The start of a sequence that has not ended yet, at the end of a read.
_PARTIAL = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)\Z")
# An escape sequence is never held back longer than this: a program that
# writes a lone ESC must not stop the reader.
_HOLD_MAX = 4096


def strip_ansi(text: str) -> str:
    """``text`` without its ANSI escape sequences (CSI, OSC, DCS/SOS/PM/APC
    and the two- and three-byte ESC sequences).  Other characters, ``\\r``
    included, are kept."""
    if "\x1b" not in text and "\x9b" not in text:
        return text
    return ANSI_ESCAPE.sub("", text)


def ansi_hold_back(data: bytes) -> int:
    """Length of the prefix of ``data`` to hand out now: an escape sequence
    cut by the end of the read stays for the next read, so that it is removed
    whole instead of leaving its tail in the text."""
    start = max(0, len(data) - _HOLD_MAX)
    esc = data.rfind(b"\x1b", start)
    if esc < 0 or not _PARTIAL.match(data, esc):
        return len(data)
    # ESC at the very end may be the first half of the ST of an OSC/DCS
    # string that began earlier: hold that string back too.
    if esc == len(data) - 1:
        opener = data.rfind(b"\x1b", start, esc)
        if opener >= 0 and _PARTIAL.match(data, opener) and data[opener + 1:opener + 2] in (b"]", b"P", b"X",
                                                                                           b"^", b"_"):
            return opener
    return esc


def omitted_marker(count: int) -> str:
    return f"[... {count} bytes omitted ...]"


def head_tail(text: str, max_bytes: int, encoding: str = "utf-8") -> tuple[str, int]:
    """(view, bytes omitted): ``text`` when its encoded size is at most
    ``max_bytes``, else its first and last bytes (about half each, cut at a
    line end when one is near) around a line "[... N bytes omitted ...]".
    A character is never cut in two."""
    if len(text) * 4 <= max_bytes:  # no encoding takes more than 4 bytes a character
        return text, 0
    data = text.encode(encoding, errors="replace")
    if len(data) <= max_bytes:
        return text, 0
    head_budget = max_bytes // 2
    tail_budget = max_bytes - head_budget
    head = data[:head_budget]
    newline = head.rfind(b"\n")
    if newline >= head_budget // 2:
        head = head[:newline + 1]
    tail = data[len(data) - tail_budget:] if tail_budget else b""
    newline = tail.find(b"\n")
    if 0 <= newline < tail_budget // 2:
        tail = tail[newline + 1:]
    # "ignore" drops the bytes of a character cut by the boundary; they count as omitted.
    head_text = head.decode(encoding, errors="ignore")
    tail_text = tail.decode(encoding, errors="ignore")
    omitted = len(data) - len(head_text.encode(encoding, errors="replace")) \
        - len(tail_text.encode(encoding, errors="replace"))
    sep = "" if not head_text or head_text.endswith("\n") else "\n"
    return f"{head_text}{sep}{omitted_marker(omitted)}\n{tail_text}", omitted
