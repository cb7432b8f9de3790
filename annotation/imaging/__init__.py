"""Django-free imaging: slide readers, deep-zoom geometry, fluorescence rendering, overlay tiles, tile server.

Nothing is imported here (``transform`` must stay cheap to import); use the modules:

- ``readers.open_slide(path) -> SlideReader`` (``reader_base.SlideReader``: ``info``, ``read_region``,
  ``thumbnail``, ``associated_image``, ``close``); ``info.SlideInfo``; ``errors.SlideReadError``.
- ``sniff.fast_checksum(path)`` / ``sniff.full_checksum(path)``.
- ``deepzoom.DeepZoomGeometry``, ``deepzoom.geometry_for(info)``.
- ``render.RenderSettings`` (``encode`` / ``parse`` / ``defaults``), ``render.composite``.
- ``tiles.render_tile``, ``overlay.render_overlay_tile``, ``overlay.overlay_pixels``.
- ``tokens.TileSpec``, ``tokens.sign_tile_token``, ``tokens.verify_tile_token``.
- ``tileserver.TileServerConfig``, ``tileserver.make_tile_app`` (bare ASGI app).
- ``transform.SlideTransform`` (shared contract).
"""
