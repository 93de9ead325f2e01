"""Optional PAdES signature of issued PDFs with the agency's certificate (a PKCS#12 file).

Electronic documents of the one-stop desk may carry the agency's digital signature (Decree
30/2020/NĐ-CP art. 8 on electronic documents; Decree 23/2025/NĐ-CP on electronic signatures).
The signature is added as an incremental update after rendering, so the signed bytes are what
gets stored, hashed and served. Imports neither Flask nor the database.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

SIGNATURE_FIELD = "ChuKySoCoQuan"


class SigningError(RuntimeError):
    """The certificate could not be loaded or the PDF could not be signed."""


class Signer:
    """Signs PDFs with one PKCS#12 key and certificate; load once per process (~0.1 s)."""

    def __init__(self, signer: signers.Signer) -> None:
        self._signer = signer
        # pyHanko gives no thread-safety promise for a shared signer; signing takes ~0.2 s and
        # happens once per issued form, so serialising it costs nothing noticeable.
        self._lock = threading.Lock()

    @classmethod
    def from_pkcs12(cls, path: str | Path, password: str | None) -> Signer:
        passphrase = password.encode() if password else None
        loaded = signers.SimpleSigner.load_pkcs12(str(path), passphrase=passphrase)
        if loaded is None:
            # pyHanko logs the reason (wrong password, unreadable file) and returns None.
            raise SigningError(f"cannot load the signing certificate from {path}")
        return cls(loaded)

    def sign(self, pdf: bytes) -> bytes:
        """The PDF with an invisible PAdES baseline B-B signature over the whole file."""
        meta = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
        )
        with self._lock:
            try:
                writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
                out = signers.sign_pdf(writer, meta, signer=self._signer)
            except Exception as exc:
                raise SigningError(f"cannot sign the PDF: {type(exc).__name__}") from exc
        return out.getvalue()
