"""What every browser test of the pages checks (Playwright's sync API, on the ``browser`` fixture).

- :func:`check_accessible`: axe-core (axe-playwright-python) finds no serious or critical
  violation on the page as it stands;
- :func:`fits_width`: nothing makes the page itself scroll sideways (a wide table scrolls in its box);
- :func:`screenshot`: ``docs/screenshots/<name>-desktop.png`` at 1280 px and ``<name>-phone.png``
  at 320 px (the narrowest phone the pages promise), whole pages, linked from the README.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCKING_IMPACTS = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 320, "height": 640}


def repository_root() -> Path:
    """The checkout (where ``uv.lock`` is), found from this file or the working directory."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "uv.lock").exists():
                return folder
    return Path.cwd()


def screenshot_dir() -> Path:
    """Where screenshots go: ``ISP_SCREENSHOT_DIR`` (``ISP_SCREENSHOT_DIR=docs/screenshots make test``
    refreshes the README's), else a temporary directory, so a test run leaves the checkout as it was."""
    chosen = os.environ.get("ISP_SCREENSHOT_DIR")
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / "isp-screenshots"


def check_accessible(page: Any) -> list[dict[str, Any]]:
    """Run axe on ``page``; fail, naming each rule, impact and element, if any violation is
    serious or critical. Returns the lesser violations (moderate, minor) for a test to look at."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]  # the package ships no types

    page.wait_for_load_state("load")  # a click's navigation may have committed and not yet loaded
    violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, f"axe on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in blocking
    )
    return [v for v in violations if v.get("impact") not in BLOCKING_IMPACTS]


def fits_width(page: Any) -> None:
    """Fail if the page is wider than the window (it would scroll sideways as a whole).
    Waits for the page to load first: just after a click's navigation commits, the new document
    has no ``documentElement`` yet."""
    page.wait_for_load_state("load")
    sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"{page.url} is {sizes[0]} px wide in a {sizes[1]} px window"


def screenshot(page: Any, name: str) -> tuple[Path, Path]:
    """Whole-page screenshots at desktop and phone widths; checks the phone one fits its width.
    The window is put back as it was."""
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    desktop, phone = folder / f"{name}-desktop.png", folder / f"{name}-phone.png"
    try:
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(desktop), full_page=True)
        page.set_viewport_size(PHONE)
        fits_width(page)
        page.screenshot(path=str(phone), full_page=True)
    finally:
        if before:
            page.set_viewport_size(before)
    return desktop, phone


@contextlib.contextmanager
def serving(app: Any, what: str = "the app") -> Iterator[str]:
    """``app`` served by uvicorn on a free local port in a thread (no lifespan: no broker), for a
    browser to visit; its base URL while the block runs. Waits on the server saying it started."""
    import threading
    import time

    import uvicorn

    from ..launcher import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), f"{what} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
