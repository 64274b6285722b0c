"""Embed the DCC XML in the certificate PDF as an associated file, and read it back.

The XML goes in before signing, so that one PAdES signature covers the printed certificate
and its machine-readable twin alike: changing either afterwards breaks the signature. It is
attached the PDF/A-3 way (ISO 19005-3 6.8; ISO 32000-2 14.13): an ``/EmbeddedFile`` stream
with MIME type ``text/xml``, size, checksum and dates in ``/Params``, named in the document's
``/EmbeddedFiles`` name tree, and its file specification listed in the catalog's ``/AF``
array with ``/AFRelationship /Data`` (the XML is the data the certificate presents).
pyHanko's :mod:`pyhanko.pdf_utils.embed` writes it as an incremental update (which marks the
file as PDF 2.0, the version that defines associated files).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from lims.errors import ReportError, msg

MIME_TYPE = "text/xml"
DESCRIPTION = "Digital Calibration Certificate (PTB DCC 3.1.2, XML)"


def embed_dcc(pdf: bytes, xml: bytes, *, name: str,
              modified: dt.datetime | None = None) -> bytes:
    """Return ``pdf`` with ``xml`` attached as the associated file ``name`` (e.g.
    ``JZ2026-000042.dcc.xml``). Call it on the unsigned PDF, before signing.

    :raises ReportError: the PDF cannot be read or already carries a signature (an
        attachment added after signing would not be covered by it).
    """
    if not name.strip() or "/" in name or "\\" in name:
        raise ReportError(msg("%(name)r is not a file name for the attachment", name=name), field="name")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except Exception as exc:  # noqa: BLE001 - pyHanko raises several kinds for a bad file
        raise ReportError(msg("cannot read the PDF to attach the DCC to: %(reason)s", reason=exc),
                          field="pdf") from exc
    if writer.prev.embedded_signatures:
        raise ReportError(msg("the PDF is already signed: attach the DCC before signing, so that "
                              "the signature covers it"), field="pdf")
    when = modified or dt.datetime.now(dt.UTC)
    data = embed.EmbeddedFileObject.from_file_data(
        writer, data=xml, compress=True, mime_type=MIME_TYPE,
        params=embed.EmbeddedFileParams(creation_date=when, modification_date=when))
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    embed.embed_file(writer, embed.FileSpec(
        file_spec_string=ascii_name, file_name=name, embedded_data=data,
        description=DESCRIPTION, af_relationship=generic.pdf_name("/Data")))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def extract_dcc(pdf: bytes) -> bytes | None:
    """The attached DCC XML of a certificate PDF (signed or not), or None if it has none.

    The associated files of the catalog (``/AF``) are searched first, then the
    ``/EmbeddedFiles`` name tree; the first ``text/xml`` (or ``.xml``) file is the DCC.

    :raises ReportError: the bytes are not a readable PDF.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        root = reader.root
    except Exception as exc:  # noqa: BLE001 - any unreadable upload is "not a PDF"
        raise ReportError(msg("cannot read the PDF: %(reason)s", reason=exc), field="pdf") from exc
    specs: list[Any] = []
    if "/AF" in root:
        specs.extend(item.get_object() for item in root["/AF"])
    names = root.get("/Names")
    if names is not None and "/EmbeddedFiles" in names.get_object():
        specs.extend(_name_tree_values(names.get_object()["/EmbeddedFiles"].get_object()))
    for spec in specs:
        data = _xml_of(spec)
        if data is not None:
            return data
    return None


def _name_tree_values(node: Any, depth: int = 0) -> list[Any]:
    """The values of a PDF name tree (ISO 32000-1 7.9.6), leaves and kids alike."""
    if depth > 16:  # a loop or an absurd tree: stop rather than recurse forever
        return []
    values: list[Any] = []
    names = node.get("/Names")
    if names is not None:
        items = list(names.get_object())
        values.extend(items[i].get_object() for i in range(1, len(items), 2))
    for kid in node.get("/Kids", ()):
        values.extend(_name_tree_values(kid.get_object(), depth + 1))
    return values


def _xml_of(spec: Any) -> bytes | None:
    if not isinstance(spec, generic.DictionaryObject) or "/EF" not in spec:
        return None
    files = spec["/EF"].get_object()
    stream = (files.get("/UF") or files.get("/F"))
    if stream is None:
        return None
    stream = stream.get_object()
    subtype = str(stream.get("/Subtype", ""))
    file_name = str(spec.get("/UF") or spec.get("/F") or "")
    if subtype.lstrip("/") != MIME_TYPE and not file_name.lower().endswith(".xml"):
        return None
    return bytes(stream.data)
