"""ASGI entry: the lean tile and viewport routes beside Django HTTP, and Channels websockets."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from config.middleware import stamp_asgi  # noqa: E402

django_http = get_asgi_application()
if settings.DEBUG or settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

from annotation.api.viewport_asgi import make_viewport_app  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from config.tiles import http_with_tiles  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_with_tiles(make_viewport_app(stamp_asgi(django_http))),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
