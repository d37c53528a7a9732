"""Release assets: a deterministic archive of the catalog, SHA256SUMS, and a signature in the OpenSSF Model Signing
(OMS) format, and the check of all three.

The archive holds the same bytes for the same catalog: names sorted, every time, owner and permission fixed,
gzip without a time stamp or file name. The signature is made with Sigstore's `model-signing` library over the
whole release folder (every asset, SHA256SUMS included; the signature file itself excluded): a Sigstore bundle
whose DSSE payload is an in-toto statement listing each file's sha256. Key-based signing (an EC private key in
PEM) works offline; keyless Sigstore signing (an OIDC identity, Fulcio and Rekor) is for the release workflow.
ECDSA signatures are randomised, so the signature file differs between two signings of the same assets; its
verification does not.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.catalog.fetch import FetchError, parse_sums, sums_text
from cwcontrib.hashing import sha256_file

SIGNATURE = "release.sig"
SUMS = "SHA256SUMS"
ARCHIVE_PREFIX = "crossedwires-catalog"
FIXED_MTIME = 0
# Catalog files that are also published one by one (GitHub's release assets are flat): what load_catalog(version=)
# downloads, the datasheet and the changelog. Everything (figures too) is in the archive.
LOOSE = (".parquet", ".json", ".md")


def archive_name(version: str) -> str:
    return f"{ARCHIVE_PREFIX}-{version}.tar.gz"


def _tarinfo(name: str, size: int | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
    if size is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = size, 0o644
    return info


def _catalog_files(catalog: Path) -> list[Path]:
    """The catalog's files and folders to publish, sorted; hidden entries (caches, staging) are not."""
    return sorted((p for p in catalog.rglob("*")
                   if not any(part.startswith(".") for part in p.relative_to(catalog).parts)),
                  key=lambda p: p.relative_to(catalog).as_posix())


def write_archive(catalog: Path, target: Path, version: str) -> Path:
    """`catalog/` as a tar.gz whose bytes depend only on the files' names and contents."""
    prefix = f"{ARCHIVE_PREFIX}-{version}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(prefix, None))
        for path in _catalog_files(catalog):
            name = f"{prefix}/{path.relative_to(catalog).as_posix()}"
            if path.is_dir():
                tar.addfile(_tarinfo(name, None))
            elif path.is_file():  # a link or a device is never published
                data = path.read_bytes()
                tar.addfile(_tarinfo(name, len(data)), io.BytesIO(data))
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9,
                                                  mtime=FIXED_MTIME) as gz:
        gz.write(buffer.getvalue())
    return target


def write_assets(catalog: Path, dist: Path, version: str) -> list[Path]:
    """The release folder: the archive, the loose catalog files and SHA256SUMS (signing comes after)."""
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    write_archive(catalog, dist / archive_name(version), version)
    for path in sorted(catalog.iterdir()):
        if path.is_file() and path.suffix in LOOSE and not path.name.startswith("."):
            shutil.copyfile(path, dist / path.name)
    (dist / SUMS).write_text(sums_text(dist), encoding="utf-8")
    return sorted(dist.iterdir())


def _hashing_config() -> Any:
    import model_signing.hashing

    # The signature cannot sign itself; git's own files are ignored by the library's default as well.
    return model_signing.hashing.Config().set_ignored_paths(paths=[SIGNATURE])  # type: ignore[no-untyped-call]


def sign_with_key(dist: Path, private_key: Path, password: str | None = None) -> Path:
    """An OMS signature of every file in `dist` made with an EC private key (PEM), offline."""
    import model_signing.signing

    config = model_signing.signing.Config().set_hashing_config(_hashing_config())  # type: ignore[no-untyped-call]
    config.use_elliptic_key_signer(private_key=private_key, password=password).sign(dist, dist / SIGNATURE)
    return dist / SIGNATURE


def sign_with_sigstore(dist: Path) -> Path:
    """Keyless Sigstore signing with the ambient OIDC identity (the release workflow's GitHub token): needs the
    network (Fulcio, Rekor); not used by the tests."""
    import model_signing.signing

    config = model_signing.signing.Config().set_hashing_config(_hashing_config())  # type: ignore[no-untyped-call]
    config.use_sigstore_signer(use_ambient_credentials=True).sign(dist, dist / SIGNATURE)
    return dist / SIGNATURE


def check_private_key(path: Path, password: str | None = None) -> str | None:
    """Why `path` cannot sign (None when it can): read before anything is written or committed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password.encode() if password else None)
    except (OSError, ValueError, TypeError) as exc:
        return f"{path}: not a readable PEM private key ({exc})"
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return f"{path}: OpenSSF Model Signing's key signer needs an elliptic-curve key, not {type(key).__name__}"
    return None


@dataclass
class Verification:
    folder: Path
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_sums(folder: Path, result: Verification) -> None:
    """Every file against SHA256SUMS: differing, missing and unlisted files, each by name."""
    try:
        sums = parse_sums((folder / SUMS).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, FetchError) as exc:
        result.problems.append(f"{SUMS}: cannot be read ({exc})")
        return
    for name, expected in sorted(sums.items()):
        path = folder / name
        if not path.is_file():
            result.problems.append(f"{name}: listed in {SUMS} but missing")
        elif (actual := sha256_file(path)) != expected:
            result.problems.append(f"{name}: differs (sha256 {actual}, {SUMS} says {expected})")
        else:
            result.checked.append(name)
    unlisted = sorted(p.name for p in folder.iterdir() if p.name not in sums and p.name not in (SUMS, SIGNATURE))
    result.problems += [f"{name}: not listed in {SUMS}" for name in unlisted]


def check_signature(folder: Path, public_key: Path, result: Verification) -> None:
    """The OMS signature against the public key and the folder's files."""
    import model_signing.verifying
    from cryptography.exceptions import InvalidSignature

    signature = folder / SIGNATURE
    if not signature.is_file():
        result.problems.append(f"{SIGNATURE}: missing; the release is not signed")
        return
    config = model_signing.verifying.Config().use_elliptic_key_verifier(  # type: ignore[no-untyped-call]
        public_key=public_key)
    try:
        config.verify(folder, signature)
    except InvalidSignature:
        result.problems.append(f"{SIGNATURE}: the signature does not verify with {public_key.name} (it was altered)")
    except json.JSONDecodeError as exc:  # a ValueError too: caught first
        result.problems.append(f"{SIGNATURE}: unreadable signature bundle (not JSON: {exc})")
    except ValueError as exc:
        # model-signing says "Signature mismatch: [<one line per file>]" when a signed file changed, and "Key
        # mismatch" when the bundle's key hint is another key's.
        if str(exc).startswith("Key mismatch"):
            result.problems.append(f"{SIGNATURE}: made with another key than {public_key.name}")
        else:
            result.problems.append(f"{SIGNATURE}: {_readable(str(exc))}")
    except Exception as exc:  # a damaged bundle reaches protobuf/JSON parsers: any failure is a refusal
        result.problems.append(f"{SIGNATURE}: unreadable signature bundle ({type(exc).__name__}: {exc})")
    else:
        result.checked.append(SIGNATURE)


# The library's messages hold reprs of raw digest bytes: when those contain a quote, Python escapes the quotes
# around the file name too (\\'name\\', once per level of repr), so the patterns accept backslashes before quotes.
_MISMATCH = re.compile(r"Hash mismatch for \\*'([^'\\]+)\\*'")
_EXTRA = re.compile(r"Extra files found in model \\*'[^'\\]*\\*': ([^\"\]\\]+)")
_MISSING = re.compile(r"Missing files in model \\*'[^'\\]*\\*': ([^\"\]\\]+)")


def _readable(message: str) -> str:
    """The library's mismatch message (raw digest bytes included) as the file names a person needs."""
    parts = [f"{name} differs from what was signed" for name in _MISMATCH.findall(message)]
    parts += [f"{names} not signed" for names in _EXTRA.findall(message)]
    parts += [f"{names} signed but missing" for names in _MISSING.findall(message)]
    return "; ".join(parts) if parts else message[:2000]


def verify_folder(folder: Path, public_key: Path | None) -> Verification:
    result = Verification(folder)
    check_sums(folder, result)
    if public_key is not None:
        check_signature(folder, public_key, result)
    return result
