"""The inbox page's scripts: an entry module and the modules it imports, all from this site and
all checked again by the browser on every load, so a new entry never runs with an old import."""

import posixpath
import re
from pathlib import Path

from tests.test_privacy_pages import SECURITY_HEADERS

ENTRY = re.compile(r'<script type="module" src="([^"]+)"')
CSP = SECURITY_HEADERS["Content-Security-Policy"]
IMPORT = re.compile(r'^import\s+(?:[^"]*?\s+from\s+)?"([^"]+)";', re.MULTILINE)


def inbox_modules(http) -> dict:
    """Every script the inbox page loads, by address, following imports from its entry module."""
    page = http.get("/inbox").get_data(as_text=True)
    waiting = ENTRY.findall(page)
    loaded = {}
    while waiting:
        address = waiting.pop()
        if address in loaded:
            continue
        loaded[address] = response = http.get(address)
        if response.status_code == 200:
            source = response.get_data(as_text=True)
            base = posixpath.dirname(address)
            imported = IMPORT.findall(source)
            waiting += [posixpath.normpath(posixpath.join(base, name)) for name in imported]
    return loaded


def test_every_module_the_inbox_imports_is_served_from_this_site(app, counsellor):
    modules = inbox_modules(counsellor().http)

    assert "/static/js/inbox.js" in modules
    for address, response in modules.items():
        assert address.startswith("/static/"), address
        assert response.status_code == 200, address
        assert response.mimetype in ("text/javascript", "application/javascript"), address
        assert response.headers["Content-Security-Policy"] == CSP
    # No module of the inbox sits unused beside the ones the page loads.
    folder = Path(app.static_folder, "js", "inbox")
    on_disk = {f"/static/js/inbox/{path.name}" for path in folder.glob("*.js")}
    assert on_disk <= set(modules)


def test_the_browser_asks_again_for_every_inbox_module_on_each_load(app, counsellor):
    http = counsellor().http
    modules = inbox_modules(http)

    for address, response in modules.items():
        assert "no-cache" in response.headers["Cache-Control"], address
        unchanged = http.get(address, headers={"If-None-Match": response.headers["ETag"]})
        assert unchanged.status_code == 304, address
