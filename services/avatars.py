"""Profile pictures: checked by content with Pillow, re-encoded and resized, kept in the database.

An upload is refused unless Pillow recognises it as PNG or JPEG (the file's name is never trusted),
`verify()` passes, its header declares at most MAX_PIXELS and it decodes in full. What is stored is
never the upload itself: the pixels are re-encoded at 256×256 and 64×64 (centre crop), which drops
EXIF and every other chunk or segment (GPS position, comments, anything smuggled after the image).
Pictures with transparency stay PNG; the others become JPEG, several times smaller."""
import hashlib
import io
import warnings

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from models import Avatar, Prepared, User, db, utcnow

MAX_BYTES = 3 * 1024 * 1024
MAX_PIXELS = 25_000_000  # 5000 × 5000: decoding stays under ~100 MB of memory
FORMATS = ("PNG", "JPEG")
SIZES = {"large": 256, "small": 64}
MIME = {"png": "image/png", "jpeg": "image/jpeg"}


class PictureRejected(ValueError):
    """The upload is not a usable picture; the message is translated and `status` is the HTTP answer."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.message = message
        self.status = status


def too_large_message():
    return _l("The picture is too large: at most 3 MB.")


def decode(raw):
    """The upload as a loaded Pillow image, or PictureRejected."""
    if not raw:
        raise PictureRejected(_l("Choose a picture."))
    if len(raw) > MAX_BYTES:
        raise PictureRejected(too_large_message(), 413)
    not_a_picture = PictureRejected(_l("This file is not a PNG or JPEG picture."))
    too_many_pixels = PictureRejected(_l("The picture is too large: at most 5000 × 5000 pixels."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise too_many_pixels
                probe.verify()  # checksums and structure, without decoding the pixels
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
            if image.format == "JPEG":
                image.draft("RGB", (SIZES["large"] * 2, SIZES["large"] * 2))  # decode at a reduced scale
            image.load()
    except PictureRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None  # Pillow's own limit, met before ours when opening
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise not_a_picture from None
    return image


def has_transparency(image):
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


def encode(image, fmt):
    image.info = {}  # Pillow would carry a JPEG comment, ICC profile or PNG text over into the new file
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def prepare(raw):
    """{"large", "small", "format", "digest"} from the uploaded bytes, or PictureRejected."""
    image = decode(raw)
    try:
        image = ImageOps.exif_transpose(image)  # a phone photo taken sideways shows upright
    except (OSError, ValueError, SyntaxError):
        pass  # an unreadable orientation tag: keep the pixels as they are
    fmt = "png" if has_transparency(image) else "jpeg"
    image = image.convert("RGBA" if fmt == "png" else "RGB")
    # The centre square, first shrunk by a whole factor with a box filter (fast), so that Lanczos then
    # works on at most about twice the large size instead of the whole photo.
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    factor = side // (SIZES["large"] * 2)
    if factor > 1:
        square = square.reduce(factor)
    result = {"format": fmt}
    for name, size in SIZES.items():
        result[name] = encode(square.resize((size, size), Image.Resampling.LANCZOS), fmt)
    result["digest"] = hashlib.sha256(result["large"] + result["small"]).hexdigest()[:16]
    return result


def save_picture(user, raw):
    """Check, re-encode and store `user`'s new picture (replacing the old one); returns the Avatar."""
    picture = prepare(raw)
    fields = {"image": picture["large"], "small": picture["small"], "format": picture["format"],
              "digest": picture["digest"], "updated_at": utcnow()}
    with db.atomic():
        if Avatar.update(**fields).where(Avatar.user == user.id).execute() == 0:
            Avatar.create(user=user.id, **fields)
    return picture


def remove_picture(user):
    """True when there was a picture to remove."""
    return Avatar.delete().where(Avatar.user == user.id).execute() > 0


DIGEST_OF = Prepared(lambda user_id: Avatar.select(Avatar.digest).where(Avatar.user == user_id))  # the top bar's, on every page


def digests(user_ids):
    """{user id: digest} for those of `user_ids` who have a picture: one query for a whole page."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    if len(ids) == 1:
        (user_id,) = ids
        row = DIGEST_OF.row(user_id)
        return {user_id: row[0]} if row else {}
    return {a.user_id: a.digest for a in Avatar.select(Avatar.user, Avatar.digest).where(Avatar.user.in_(ids))}


def picture_of(user_id, organization_id):
    """The Avatar of that person if they belong to `organization_id`, else None."""
    return (
        Avatar.select(Avatar)
        .join(User)
        .where(Avatar.user == user_id, User.organization == organization_id)
        .first()
    )


def initials(user):
    """One or two letters for the fallback circle: the first letters of the name, or of the e-mail."""
    words = [w for w in (user.full_name or "").split() if w[:1].isalnum()]
    if words:
        return "".join(w[0] for w in words[:2]).upper()
    return (user.email[:1] or "?").upper()
