"""Small real files for tests, examples and benchmarks of file conversion: a text PDF written by hand."""

from __future__ import annotations


def text_pdf(pages: list[str], *, title: str | None = None, padding: int = 0) -> bytes:
    """
    A valid PDF with one page per string (lines split at newlines, Helvetica, Latin-1 text).

    :param title: The document's `/Title` (its Info dictionary), if any.
    :param padding: Bytes of an unreferenced stream object to add: a large file with little text, for
        memory benchmarks (readers skip it; it is still sent and parsed).
    """
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        lines = text.split("\n")
        ops = [b"BT /F1 12 Tf 72 720 Td"]
        for number, line in enumerate(lines):
            if number:
                ops.append(b"0 -16 Td")
            ops.append(b"(" + _escape(line) + b") Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % content
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))
    info = None
    if title is not None:
        objects.append(b"<< /Title (" + _escape(title) + b") >>")
        info = len(objects)
    if padding:
        objects.append(b"<< /Length %d >>\nstream\n" % padding + b"\0" * padding + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1) + (b" /Info %d 0 R" % info if info else b"") + b" >>"
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _escape(text: str) -> bytes:
    return text.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def wav_clip(title: str = "", *, seconds: float = 0.1, rate: int = 8000, padding: int = 0) -> bytes:
    """A mono 16-bit WAV of a quiet tone, with `title` as its RIFF `INFO/INAM` tag (the emulator reads it)."""
    import io
    import math
    import struct
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        frames = int(seconds * rate) + padding // 2
        clip.writeframes(b"".join(struct.pack("<h", int(800 * math.sin(i / 8))) for i in range(frames)))
    data = buffer.getvalue()
    if not title:
        return data
    name = title.encode() + b"\x00"
    name += b"\x00" * (len(name) & 1)
    info = b"INFO" + b"INAM" + struct.pack("<I", len(name)) + name
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    return b"RIFF" + struct.pack("<I", len(data) - 8 + len(chunk)) + data[8:] + chunk


def mp4_clip(title: str = "", *, padding: int = 0) -> bytes:
    """
    The boxes of an ISO media file (`ftyp`, an empty `mdat`, `moov/udta` with a `©nam` title): what the
    emulator reads of a video. It has no frames: a player would not play it.
    """
    import struct

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    text = title.encode()
    name = box(b"\xa9nam", box(b"data", struct.pack(">II", 1, 0) + text))
    return (
        box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
        + box(b"mdat", b"\x00" * padding)
        + box(b"moov", box(b"udta", name))
    )
