"""A cheap proof that a JPEG file is whole: its markers, from start-of-image to end-of-image, read in place.

A JPEG sent unchanged must not be truncated or corrupt: one bad image would make the API refuse its whole
batch. Decoding it (even at 1/8 scale) costs 0.8 ms of CPU for a 640x480 photo, 4-14 ms for a 1600x1200
one and 26 ms for 12 megapixels; walking its marker segments costs 10 to 70 times less
(`benchmarks/bench_image_check.py`), since the entropy-coded data is skipped by one regular-expression
search per scan (inside it, 0xFF is always followed by 0x00 or a restart marker).

`jpeg_is_complete` checks what a truncated or damaged file gets wrong: every segment's length fits the
file; the frame header (SOF), quantization (DQT), Huffman (DHT: the code lengths must form a prefix code)
and scan (SOS) headers hold values a decoder takes; a frame comes before the first scan; an end-of-image
marker follows the last scan. It answers only "surely whole" (True) or "not sure" (False): on False the
caller decodes the image to decide, as before, so a file a decoder accepts is never refused by this check.
"""

from __future__ import annotations

import re

#: A marker: 0xFF followed by neither a stuffed 0x00, a restart marker (0xD0-0xD7), nor a fill byte.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_EOI, _SOS, _DHT, _DQT = 0xD9, 0xDA, 0xC4, 0xDB
#: Start-of-frame markers (0xC0-0xCF except DHT, JPG and DAC); of them only baseline, extended sequential
#: and progressive Huffman frames (what cameras and encoders write) are checked, the rest left to the decoder.
_SOF = frozenset(range(0xC0, 0xD0)) - {_DHT, 0xC8, 0xCC}
_SEQUENTIAL, _PROGRESSIVE = frozenset({0xC0, 0xC1}), 0xC2
#: Segments that may stand before the first scan: DHT, DAC, DQT, DNL, DRI, APPn, COM (and the frame).
_BEFORE_SCANS = frozenset({_DHT, 0xCC, _DQT, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)})
#: Between scans (progressive files) only tables and DRI/DNL: a marker there is more likely a damaged byte
#: in the entropy-coded data than an APPn or COM segment, so anything else means "not sure".
_BETWEEN_SCANS = frozenset({_DHT, _DQT, 0xDC, 0xDD, _SOS})
_FIXED_LENGTH = {0xDC: 4, 0xDD: 4}  # DNL and DRI: a 2-byte value


def jpeg_is_complete(data: bytes) -> bool:
    """True if `data` is a structurally whole JPEG (see the module docstring); False if not sure."""
    if not data.startswith(b"\xff\xd8"):
        return False
    pos, components, progressive, scanned = 2, b"", False, False
    while True:
        match = _MARKER.search(data, pos)
        if match is None:
            return False  # truncated: no end-of-image
        if not scanned and data[pos : match.start()].strip(b"\xff"):
            return False  # bytes between header segments
        marker, start = data[match.start() + 1], match.end()
        if marker == _EOI:
            return scanned
        if marker not in (_BETWEEN_SCANS if scanned else _BEFORE_SCANS | _SOF | {_SOS}):
            return False
        if start + 2 > len(data):
            return False
        length = int.from_bytes(data[start : start + 2], "big")
        end = start + length
        if length < 2 or end > len(data) or _FIXED_LENGTH.get(marker, length) != length:
            return False
        body = data[start + 2 : end]
        if marker in _SOF:
            if components or (marker not in _SEQUENTIAL and marker != _PROGRESSIVE) or not _frame_ok(body):
                return False
            components, progressive = body[6::3], marker == _PROGRESSIVE  # the component ids
        elif marker == _SOS:
            if not components or not _scan_ok(body, components, progressive):
                return False
            scanned = True
        elif (marker == _DHT and not _huffman_ok(body)) or (marker == _DQT and not _quantization_ok(body)):
            return False
        pos = end  # after a scan header the search skips the entropy-coded data to the next marker


def _frame_ok(body: bytes) -> bool:
    """SOF: precision, a non-zero size, 1-4 components with sampling factors 1-4 and table 0-3."""
    if len(body) < 6 or body[0] not in (8, 12) or body[1:3] == b"\x00\x00" or body[3:5] == b"\x00\x00":
        return False  # a height of 0 (set later by a DNL marker) is legal but rare: left to the decoder
    count = body[5]
    if not 1 <= count <= 4 or len(body) != 6 + 3 * count:
        return False
    for offset in range(6, len(body), 3):
        sampling, table = body[offset + 1], body[offset + 2]
        if not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 0x0F <= 4 and table <= 3):
            return False
    return True


def _scan_ok(body: bytes, components: bytes, progressive: bool) -> bool:
    """SOS: 1-4 of the frame's components, each with Huffman tables 0-3, and a spectral selection and
    successive approximation a decoder takes (libjpeg's rules)."""
    count = body[0] if body else 0
    if not 1 <= count <= 4 or len(body) != 4 + 2 * count:
        return False
    for offset in range(1, 1 + 2 * count, 2):
        if body[offset] not in components or body[offset + 1] >> 4 > 3 or body[offset + 1] & 0x0F > 3:
            return False
    start, end, high, low = body[-3], body[-2], body[-1] >> 4, body[-1] & 0x0F
    if not progressive:
        return (start, end, high, low) == (0, 63, 0, 0)
    if start > end or end > 63 or low > 13 or (high and low != high - 1):
        return False
    return end == 0 if start == 0 else count == 1  # a DC scan, or an AC scan of one component


def _huffman_ok(body: bytes) -> bool:
    """DHT: each table's class and id, its code lengths a valid prefix code, DC symbols at most 15."""
    offset = 0
    while offset < len(body):
        if offset + 17 > len(body) or body[offset] >> 4 > 1 or body[offset] & 0x0F > 3:
            return False
        counts = body[offset + 1 : offset + 17]
        total, code = sum(counts), 0
        for size, count in enumerate(counts, 1):
            code += count
            if count and code >= 1 << size:  # over-subscribed: more codes of this length than fit
                return False
            code <<= 1
        symbols = body[offset + 17 : offset + 17 + total]
        if total > 256 or len(symbols) != total or (body[offset] >> 4 == 0 and symbols and max(symbols) > 15):
            return False
        offset += 17 + total
    return offset == len(body)


def _quantization_ok(body: bytes) -> bool:
    """DQT: each table's precision (8 or 16 bit) and id, and its 64 values present."""
    offset = 0
    while offset < len(body):
        precision, table = body[offset] >> 4, body[offset] & 0x0F
        if precision > 1 or table > 3:
            return False
        offset += 1 + 64 * (precision + 1)
    return offset == len(body)


__all__ = ["jpeg_is_complete"]
