"""What a visitor sees: Debian's chromium, headless, loads the example's pages
through the self-contained server, and the stylesheets apply."""
import shutil
import struct
import subprocess
import zlib

import pytest

from conftest import free_port
from helpers import Site

HOME_HEADING = (0x2A, 0x6F, 0x4E)  # coleman/style.css: h1 { color: #2a6f4e }
ADMIN_HEADER = (0x41, 0x76, 0x90)  # admin/css/base.css: --header-bg: var(--secondary), #417690


@pytest.fixture(scope="module")
def site(new_buildout):
    site = Site(new_buildout("browser"), free_port())
    site.ctl("start")
    yield site
    site.ctl("stop", check=False)


def screenshot(url, directory):
    """The page as chromium draws it in an 800x600 window, as rows of (r, g, b)."""
    png = directory / "screenshot.png"
    shutil.rmtree(directory / "profile", ignore_errors=True)  # nothing from a browser cache
    subprocess.run(
        [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
         f"--user-data-dir={directory / 'profile'}", "--window-size=800,600", f"--screenshot={png}", url],
        check=True, capture_output=True, timeout=120)
    return png_pixels(png.read_bytes())


def png_pixels(data):
    """Rows of (r, g, b) from an 8-bit RGB or RGBA PNG, as chromium writes them."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunks.setdefault(kind, []).append(data[position + 8:position + 8 + length])
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and colour in (2, 6) and not interlace
    size = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(b"".join(chunks[b"IDAT"])), width * size, [], bytes(width * size)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, up_left = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - up_left
                nearest = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - up_left), 2, up_left))
                line[i] = (line[i] + nearest[2]) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, size)])
        previous = line
    return rows


def count(rows, colour):
    return sum(row.count(colour) for row in rows)


def test_home_page_shows_in_its_stylesheets_colours(site, tmp_path):
    rows = screenshot(f"http://127.0.0.1:{site.port}/", tmp_path)
    assert count(rows, HOME_HEADING) > 100  # the heading's letters, drawn in the site's green


def test_admin_login_shows_in_the_admins_colours(site, tmp_path):
    rows = screenshot(f"http://127.0.0.1:{site.port}/admin/login/", tmp_path)
    assert count(rows, ADMIN_HEADER) > 20000  # the header bar across the login box
