"""The web UI of the tasks service: server-rendered pages under /ui on the same aiohttp app as the API.

`install` imports every `page_*.py` module of this package (each registers its pages with `pages.page`),
adds them with the stylesheet and script, and sends `/` and `/ui` to the Tasks screen. Importing this
package also registers the API routes the UI added (manual Send, a contact's sequences; the owner's preview,
rollup lists and results); `app.py` imports it before the API is installed.
"""

from __future__ import annotations

import importlib
import pkgutil

from aiohttp import web

from seqflow.service import SeqflowApp
from seqflow_tasks.api import (  # noqa: F401 - the UI's own API routes register
    contact_sequences,
    manual_send,
    preview,
    results,
    rollup_lists,
)
from seqflow_tasks.api.registry import Deps
from seqflow_tasks.web.bridge import DEPS
from seqflow_tasks.web.pages import PAGES, see_other, wrap
from seqflow_tasks.web.templating import STATIC

HOME = "/ui/tasks"


def load_pages() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("page_"):
            importlib.import_module(f"{__name__}.{module.name}")


async def home(request: web.Request) -> web.StreamResponse:
    return see_other(HOME)


def install(app: SeqflowApp, deps: Deps) -> None:
    load_pages()
    web_app = app.web.web_app
    web_app[DEPS] = deps
    for path in ("/", "/ui", "/ui/"):
        web_app.router.add_get(path, home)
    web_app.router.add_static("/ui/static/", STATIC)
    for p in PAGES:
        web_app.router.add_route(p.method, p.path, wrap(p))
