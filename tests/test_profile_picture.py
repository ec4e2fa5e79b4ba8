"""Profile pictures (issue 6, seed 004): content checks, re-encoding, serving, removal, top bar."""
import io
import re
import struct
import zlib

import pytest
from PIL import Image

from models import AuditEvent, Avatar, Organization
from services import avatars
from tests.conftest import csrf_from, make_user, sign_in

HTMX = {"HX-Request": "true"}
PAGE = "/app/personal-data"


def picture_bytes(fmt="JPEG", size=(800, 600), mode="RGB", color=(200, 30, 30), **save):
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_exif():
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    exif[0x8825] = {2: (55.0, 45.0, 0.0), 1: "N"}  # GPS position
    return picture_bytes("JPEG", size=(400, 200), exif=exif.tobytes(), comment=b"secret comment")


def png_declaring(width, height):
    """A valid 1×1 PNG whose header then claims width × height pixels (a decompression bomb's header)."""
    raw = bytearray(picture_bytes("PNG", size=(1, 1)))
    ihdr = raw[12:29]  # type + data
    ihdr[4:12] = struct.pack(">II", width, height)
    raw[12:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


def multipart(data, name, **fields):
    """A multipart body built in memory (the test client would spool a large one to an unclosed temp file)."""
    parts = [f'--x\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--x\r\nContent-Disposition: form-data; name="picture"; filename="{name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n--x--\r\n")
    return b"".join(parts)


def upload(client, data, name="me.jpg", headers=None, **fields):
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    return client.post(f"{PAGE}/picture", data=multipart(data, name, csrf_token=token, **fields),
                       headers={"Content-Type": "multipart/form-data; boundary=x", **(headers or {})})


def served_urls(html):
    return re.findall(r'src="(/app/pictures/\d+/(?:small|large)/[0-9a-f]{16})"', html)


def test_upload_shows_in_top_bar_and_profile_card(signed_in, user):
    response = upload(signed_in, picture_bytes())
    assert response.status_code == 303
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert "Picture saved." in html
    urls = served_urls(html)
    assert any("/small/" in u for u in urls) and any("/large/" in u for u in urls)
    topbar = html.split('id="topbar-avatar"', 1)[1].split("</span>", 1)[0]
    assert "/small/" in topbar
    event = AuditEvent.get(AuditEvent.action == "profile.picture_changed")
    assert event.actor_id == user.id and event.ip == "127.0.0.1"


def test_served_picture_is_re_encoded_resized_and_cached_by_content(signed_in, user):
    upload(signed_in, jpeg_with_exif())
    urls = served_urls(signed_in.get(PAGE).get_data(as_text=True))
    for url in set(urls):
        response = signed_in.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        data = response.get_data()
        assert b"Exif" not in data and b"SpyCam" not in data and b"secret comment" not in data
        image = Image.open(io.BytesIO(data))
        side = 256 if "/large/" in url else 64
        assert image.size == (side, side) and not image.getexif()
        again = signed_in.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304


def test_transparent_png_stays_png(signed_in, user):
    upload(signed_in, picture_bytes("PNG", mode="RGBA", color=(0, 0, 255, 0)), name="logo.png")
    assert Avatar.get(Avatar.user == user).format == "png"
    url = served_urls(signed_in.get(PAGE).get_data(as_text=True))[0]
    assert signed_in.get(url).headers["Content-Type"] == "image/png"


def test_a_new_picture_gets_a_new_url(signed_in, user):
    upload(signed_in, picture_bytes(color=(10, 10, 10)))
    first = served_urls(signed_in.get(PAGE).get_data(as_text=True))[0]
    upload(signed_in, picture_bytes(color=(250, 250, 250)))
    second = served_urls(signed_in.get(PAGE).get_data(as_text=True))[0]
    assert first != second
    assert signed_in.get(first).status_code == 404 and signed_in.get(second).status_code == 200


@pytest.mark.parametrize("data, name, status, message", [
    (b"<?php system($_GET['c']); ?>", "shell.png", 422, "not a PNG or JPEG"),
    (b"GIF89a" + b"\x00" * 100, "x.gif", 422, "not a PNG or JPEG"),
    (picture_bytes("GIF"), "cat.png", 422, "not a PNG or JPEG"),
    (picture_bytes()[:300], "cut.jpg", 422, "not a PNG or JPEG"),
    (png_declaring(30000, 30000), "bomb.png", 422, "at most 5000 × 5000 pixels"),
    (png_declaring(2**31 - 1, 2**31 - 1), "bomb.png", 422, "5000 × 5000"),
    (b"", "empty.png", 422, "Choose a picture."),
    (b"\xff\xd8\xff" + b"\x00" * (avatars.MAX_BYTES + 10), "big.jpg", 413, "at most 3 MB"),
])
def test_bad_pictures_are_refused_and_nothing_is_saved(signed_in, user, data, name, status, message):
    response = upload(signed_in, data, name=name)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert not Avatar.select().exists()
    assert not AuditEvent.select().where(AuditEvent.action == "profile.picture_changed").exists()


def test_four_megabyte_upload_is_refused_before_it_is_read(signed_in, user):
    huge = b"\x89PNG" + b"\x00" * (4 * 1024 * 1024)
    response = upload(signed_in, huge, name="huge.png", headers=HTMX)
    assert response.status_code == 413 and "at most 3 MB" in response.get_data(as_text=True)
    # Without JS: back on the page with the message at the field, not on an error page.
    response = upload(signed_in, huge, name="huge.png")
    assert response.status_code == 303 and response.headers["Location"].endswith("?picture=too-large#picture-block")
    html = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="error" id="picture-error" role="alert">The picture is too large: at most 3 MB.</p>' in html
    assert not Avatar.select().exists()


def test_refusal_is_translated(client, org):
    make_user(org, language="ru")
    sign_in(client)
    response = upload(client, b"<?php ?>", name="x.png")
    assert response.status_code == 422 and "не изображение PNG или JPEG" in response.get_data(as_text=True)


def test_a_jpeg_named_php_is_judged_by_its_content(signed_in, user):
    assert upload(signed_in, picture_bytes(), name="x.php").status_code == 303
    assert Avatar.get(Avatar.user == user).format == "jpeg"


def test_htmx_upload_swaps_the_card_and_the_top_bar(signed_in, user):
    response = upload(signed_in, picture_bytes(), headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="picture-block"' in html and 'id="topbar-avatar" class="topbar-avatar" hx-swap-oob="true"' in html
    assert len(served_urls(html)) == 2
    bad = upload(signed_in, b"not an image", headers=HTMX)
    assert bad.status_code == 422 and 'id="picture-block"' in bad.get_data(as_text=True)


def test_remove_picture_brings_back_the_initials(signed_in, user):
    upload(signed_in, picture_bytes())
    token = csrf_from(signed_in.get(PAGE).get_data(as_text=True))
    response = signed_in.post(f"{PAGE}/picture/delete", data={"csrf_token": token})
    assert response.status_code == 303 and not Avatar.select().exists()
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert served_urls(html) == [] and '<span class="avatar initials small c' in html and ">AT</span>" in html
    assert AuditEvent.select().where(AuditEvent.action == "profile.picture_removed").exists()


def test_each_person_changes_only_their_own_picture(client, org, user):
    other = make_user(org, "bob@example.com", full_name="Bob")
    sign_in(client)
    upload(client, picture_bytes(), user_id=other.id)
    assert [a.user_id for a in Avatar.select()] == [user.id]


def test_pictures_are_seen_within_the_organization_only(client, org, user):
    sign_in(client)
    upload(client, picture_bytes())
    url = served_urls(client.get(PAGE).get_data(as_text=True))[0]
    colleague, stranger = client.application.test_client(), client.application.test_client()
    make_user(org, "bob@example.com")
    sign_in(colleague, "bob@example.com")
    make_user(Organization.create(name="Other"), "eve@example.com")
    sign_in(stranger, "eve@example.com")
    assert colleague.get(url).status_code == 200
    assert stranger.get(url).status_code == 404
    anonymous = client.application.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client.get(url.replace("/small/", "/huge/")).status_code == 404
    assert client.get(re.sub(r"/\d+/", "/99999999999999999999/", url)).status_code == 404


def test_initials():
    class Person:
        def __init__(self, full_name, email="x@example.com"):
            self.full_name, self.email = full_name, email

    assert avatars.initials(Person("Анна Смирнова")) == "АС"
    assert avatars.initials(Person("cher")) == "C"
    assert avatars.initials(Person("", "zed@example.com")) == "Z"
    assert avatars.initials(Person("  - ")) == "X"
