"""Tiles through the real ASGI server with the signed URLs the viewer endpoint hands out."""

from __future__ import annotations

import httpx
import pytest

from annotation.services.pairs import pair_create
from tests.annotation.slide_support import add_slide, he_tiff, if_ome, make_project, slide_store
from tests.support.procs import asgi_server

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]


def test_viewer_urls_serve_tiles_with_etags_and_outsiders_get_no_url(slide_store, client, tmp_path):
    ctx = make_project()
    he = add_slide(ctx["project"], he_tiff(tmp_path, 400, 500))
    mol = add_slide(ctx["project"], if_ome(tmp_path, 400, 500))
    pair = pair_create(project=ctx["project"], name="p", anatomical_id=he.id, molecular_id=mol.id)
    client.force_login(ctx["annotator"])
    viewer = client.get(f"/api/pairs/{pair.id}/viewer/").json()
    client.force_login(ctx["outsider"])
    assert client.get(f"/api/pairs/{pair.id}/viewer/").status_code == 404
    assert client.get(f"/api/slides/{he.id}/dzi/").status_code == 404
    with asgi_server() as base, httpx.Client(base_url=base, timeout=30) as http:
        dzi = http.get(viewer["anatomical"]["dzi_url"])
        assert dzi.status_code == 200 and b'Width="500"' in dzi.content
        tile_url = viewer["anatomical"]["dzi_url"].replace("slide.dzi", "slide_files/9/0_0.jpeg")
        tile = http.get(tile_url)
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/jpeg"
        etag = tile.headers["etag"]
        again = http.get(tile_url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        overlay = viewer["overlay"]["dzi_url"].replace("slide.dzi", "slide_files/9/0_0.png")
        assert http.get(overlay).status_code == 200
        fluo = viewer["molecular"]["dzi_url"].replace("slide.dzi", "slide_files/8/0_0.jpeg")
        assert http.get(fluo).status_code == 200
        token = viewer["anatomical"]["dzi_url"].split("/")[-2]
        forged = viewer["anatomical"]["dzi_url"].replace(token, token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))
        assert http.get(forged).status_code == 403
        assert http.get(f"/api/slides/{he.id}/thumbnail/").status_code in (401, 403)  # no session: no slide data
