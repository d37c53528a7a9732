"""Downloads a dataset user can trust: HTTPS only, bounded, checked against a sha256 before use, cached.

A file is streamed into a private temporary file beside its cache path, hashed on the way, and renamed into
the cache only when its digest is the expected one; a corrupted, truncated or oversized download leaves
nothing behind. `CWCONTRIB_CA_BUNDLE` names extra certificate authorities (a mirror's, or a test server's).
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cwcontrib.hashing import sha256_file

CHUNK = 1 << 20
SUMS_LIMIT = 1 << 20  # SHA256SUMS of a release: a line per asset
SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([A-Za-z0-9._-]+)$")


class FetchError(Exception):
    """A download that could not be made or could not be trusted."""


def cache_root() -> Path:
    return Path(os.environ.get("CWCONTRIB_CACHE") or Path.home() / ".cache" / "cwcontrib")


def _context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ.get("CWCONTRIB_CA_BUNDLE") or None)


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        require_https(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def require_https(url: str) -> None:
    if urlsplit(url).scheme != "https":
        raise FetchError(f"{url}: only https:// URLs are fetched")


def _open(url: str) -> Any:
    require_https(url)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_context()), _HttpsOnlyRedirects())
    try:
        return opener.open(urllib.request.Request(url, headers={"User-Agent": "cwcontrib"}), timeout=60)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"{url}: {exc}") from None


def fetch_bytes(url: str, limit: int) -> bytes:
    """A small document, refused when larger than `limit` bytes."""
    with _open(url) as response:
        data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise FetchError(f"{url}: larger than {limit} bytes")
    return data


def fetch_verified(url: str, sha256: str, limit: int, target: Path) -> Path:
    """`target` holding the bytes of `url` whose sha256 is `sha256` (at most `limit` bytes); kept when cached."""
    if target.is_file() and sha256_file(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, _open(url) as response:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"{url}: more than the {limit} bytes declared")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise FetchError(f"{url}: sha256 {digest.hexdigest()} is not the expected {sha256}; refused")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def parse_sums(text: str) -> dict[str, str]:
    """`sha256sum` output (file name -> digest); anything else in it is refused."""
    sums = {}
    for line in text.splitlines():
        match = SUMS_LINE.match(line)
        if match is None:
            raise FetchError(f"SHA256SUMS: unexpected line {line[:80]!r}")
        sums[match[2]] = match[1]
    return sums


def sums_text(folder: Path) -> str:
    """The SHA256SUMS of every file directly in `folder` (sha256sum's format, names sorted)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "SHA256SUMS")
    return "".join(f"{sha256_file(p)}  {p.name}\n" for p in files)
