"""Signed tile tokens: what a tile URL may show, signed by Django, checked by the tile server without a DB.

Token = ``base64url(payload JSON) + "." + base64url(HMAC-SHA256(secret, payload part))``. The expiry is
rounded up to a bucket (an hour by default) so every URL issued within the bucket is identical and
browser/CDN caches keep hitting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

from annotation.imaging.errors import TokenError

KINDS = ("brightfield", "fluorescence", "overlay")
DEFAULT_TTL_S = 3600
DEFAULT_BUCKET_S = 3600
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class TileSpec:
    """What a token grants: one slide (or an H&E + IF pair for overlays) under the tile server's slide root.

    - ``kind``: "brightfield" | "fluorescence" | "overlay".
    - ``paths``: slide files relative to the slide root; for "overlay" ``(he_path, if_path)``.
    - ``checksums``: one per path (``sniff.fast_checksum`` form "f1:..." is verified on open).
    - ``transform_path``: overlay only; JSON file (``SlideTransform.to_dict()``) relative to the root.
    - ``transform_version``: overlay only; content hash of that file (goes into ETags / cache keys).
    - ``reference``: overlay only, optional ``(width, height, tile_size, overlap)`` of the H&E DZI;
      when absent the server derives it from the H&E file exactly as for the H&E's own tiles.
    """

    kind: str
    paths: tuple[str, ...]
    checksums: tuple[str, ...]
    transform_path: str | None = None
    transform_version: str | None = None
    reference: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        want = 2 if self.kind == "overlay" else 1
        if len(self.paths) != want or len(self.checksums) != want:
            raise ValueError(f"{self.kind} needs {want} path(s) and as many checksums")
        if self.kind == "overlay" and not (self.transform_path and self.transform_version):
            raise ValueError("overlay needs transform_path and transform_version")


def content_version(data: bytes) -> str:
    """``"sha256:<hex>"`` of a transform file's bytes: the ``transform_version`` the server checks."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dzi_url(token: str, prefix: str = "/tiles", render: str | None = None, fmt: str = "jpeg") -> str:
    """URL path of a token's .dzi; ``render`` (a ``RenderSettings.encode()`` string) and ``fmt`` ride along.

    OpenSeadragon appends the .dzi URL's query string to every tile URL it derives from it.
    """
    query = []
    if render:
        query.append(f"r={render}")
    if fmt == "png":
        query.append("f=png")
    return f"{prefix.rstrip('/')}/{token}/slide.dzi" + ("?" + "&".join(query) if query else "")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign_tile_token(
    spec: TileSpec,
    secret: str | bytes,
    ttl_s: int = DEFAULT_TTL_S,
    *,
    bucket_s: int = DEFAULT_BUCKET_S,
    now: float | None = None,
) -> str:
    """URL-safe token for ``spec`` valid at least ``ttl_s`` seconds (expiry rounded up to ``bucket_s``)."""
    now = time.time() if now is None else now
    expires = int(-(-(now + ttl_s) // bucket_s) * bucket_s)
    payload = {
        "k": spec.kind,
        "p": list(spec.paths),
        "c": list(spec.checksums),
        "t": spec.transform_path,
        "v": spec.transform_version,
        "r": list(spec.reference) if spec.reference else None,
        "e": expires,
    }
    body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    sig = hmac.new(_key(secret), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(sig)}"


def verify_tile_token(token: str, secret: str | bytes, *, now: float | None = None) -> TileSpec:
    """The spec a token grants; TokenError if the signature is wrong, the token malformed or expired."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("malformed token")
    body, sig = token.split(".")
    expected = hmac.new(_key(secret), body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        given = _unb64(sig)
    except ValueError as exc:
        raise TokenError("malformed signature") from exc
    if not hmac.compare_digest(expected, given):
        raise TokenError("bad signature")
    try:
        payload = orjson.loads(_unb64(body))
        expires = int(payload["e"])
        spec = TileSpec(
            kind=payload["k"],
            paths=tuple(payload["p"]),
            checksums=tuple(payload["c"]),
            transform_path=payload.get("t"),
            transform_version=payload.get("v"),
            reference=tuple(int(v) for v in payload["r"]) if payload.get("r") else None,  # type: ignore[arg-type]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed token payload") from exc
    if (time.time() if now is None else now) >= expires:
        raise TokenError("token expired")
    return spec
