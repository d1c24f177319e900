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
