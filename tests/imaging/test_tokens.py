from __future__ import annotations

import pytest

from annotation.imaging.errors import TokenError
from annotation.imaging.tokens import TileSpec, sign_tile_token, verify_tile_token

SECRET = "s3cret"
SPEC = TileSpec(kind="brightfield", paths=("a/he.svs",), checksums=("f1:abc",))


def test_token_round_trips_and_is_url_safe() -> None:
    token = sign_tile_token(SPEC, SECRET, 600, now=1_000_000)
    assert verify_tile_token(token, SECRET, now=1_000_100) == SPEC
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_tokens_issued_within_a_bucket_are_identical() -> None:
    a = sign_tile_token(SPEC, SECRET, 3600, now=7200 * 100 + 10)
    b = sign_tile_token(SPEC, SECRET, 3600, now=7200 * 100 + 3000)
    c = sign_tile_token(SPEC, SECRET, 3600, now=7200 * 100 + 3700)
    assert a == b != c


def test_expired_tampered_or_foreign_tokens_are_refused() -> None:
    token = sign_tile_token(SPEC, SECRET, 600, bucket_s=60, now=1_000_000)
    with pytest.raises(TokenError, match="expired"):
        verify_tile_token(token, SECRET, now=1_000_000 + 700)
    with pytest.raises(TokenError, match="signature"):
        verify_tile_token(token, "other secret", now=1_000_000)
    body, sig = token.split(".")
    other = sign_tile_token(TileSpec("brightfield", ("../../etc/passwd",), ("x",)), "attacker", 600, now=1_000_000)
    with pytest.raises(TokenError):
        verify_tile_token(other.split(".")[0] + "." + sig, SECRET, now=1_000_000)
    for bad in ("", "abc", "a.b.c", body + ".!!!"):
        with pytest.raises(TokenError):
            verify_tile_token(bad, SECRET, now=1_000_000)


def test_overlay_spec_requires_two_slides_and_a_transform() -> None:
    with pytest.raises(ValueError):
        TileSpec(kind="overlay", paths=("he.svs",), checksums=("x",))
    with pytest.raises(ValueError):
        TileSpec(kind="overlay", paths=("he.svs", "if.tif"), checksums=("x", "y"))
    spec = TileSpec("overlay", ("he.svs", "if.tif"), ("x", "y"), "t/abc.json", "sha256:abc", (100, 80, 256, 0))
    assert verify_tile_token(sign_tile_token(spec, SECRET, 60, now=0), SECRET, now=1) == spec


def test_dzi_url_and_content_version_helpers() -> None:
    from annotation.imaging.tokens import content_version, dzi_url

    assert dzi_url("tok") == "/tiles/tok/slide.dzi"
    assert dzi_url("tok", "/t/", "0-0000ff-0-10-1", "png") == "/t/tok/slide.dzi?r=0-0000ff-0-10-1&f=png"
    assert content_version(b"{}") == content_version(b"{}") != content_version(b"{ }")
    assert content_version(b"{}").startswith("sha256:")
