"""``multipart/form-data`` bodies for HTTP uploads (standard library only): the remote
speech recogniser and ``assistant bench serve``'s clients send audio files this way."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

__all__ = ["form_data"]


def form_data(
    fields: Mapping[str, str],
    file: bytes,
    filename: str = "audio.wav",
    content_type: str = "audio/wav",
) -> tuple[bytes, str]:
    """(body, Content-Type header) of a form with text ``fields`` and one ``file`` part."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        f"\r\nContent-Type: {content_type}\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
