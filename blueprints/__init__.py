"""Helpers every blueprint shares: full page or fragment rendering, htmx detection, safe redirects,
upload size limits checked before anything reads the body."""
import re
from urllib.parse import unquote

from flask import current_app, make_response, redirect, render_template, request, url_for
from werkzeug.urls import iri_to_uri


def is_htmx():
    return request.headers.get("HX-Request") == "true"


def wants_fragment():
    """An htmx request that swaps part of a page (not a boosted link, not a history restore)."""
    return (
        is_htmx()
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_blocks(template_name, blocks, **context):
    """Render named blocks of a page template alone, in order (for htmx fragments and OOB parts)."""
    current_app.update_template_context(context)
    env = current_app.jinja_env
    page = env.get_template(template_name)
    shared = page.new_context(context)  # for the page's blocks and the frame's alike, as in a whole-page render
    parts = []
    for block in blocks:
        # A block the page lacks is a part of the frame, e.g. the top bar's label.
        template = page if block in page.blocks else env.get_template("base.html")
        parts.append("".join(template.blocks[block](shared)))
    return "".join(parts)


def render(template_name, block=None, status=200, oob=(), **context):
    """One URL, two answers: the whole page, or for an htmx request its `block` plus `oob` blocks."""
    if block and wants_fragment():
        html = render_blocks(template_name, [block], **context)
        if oob:
            html += render_blocks(template_name, list(oob), oob=True, **context)
    else:
        html = render_template(template_name, **context)
    return make_response(html, status)


# A browser drops ASCII tabs and line breaks anywhere in a URL, and reads a backslash as a slash.
UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def local_path(target):
    """`target` when no browser could read it as anything but a path on this site, else None
    (SECURITY.md 28): it starts with one slash, and neither it nor its percent-decoded forms hold a
    second leading slash, a backslash or a control character."""
    if not isinstance(target, str) or len(target) > 2000:
        return None
    text = target
    for _round in range(3):  # /%252F%252F... decodes in rounds; each must be a plain path as well
        if not text.startswith("/") or text.startswith("//") or UNSAFE_IN_PATH.search(text):
            return None
        decoded = unquote(text)
        if decoded == text:
            return target
        text = decoded
    return None


def safe_next(target, default_endpoint="profile.personal_data"):
    """`target` when it is a local path, else the default page (no open redirects)."""
    return local_path(target) or url_for(default_endpoint)


def see_other(location):
    """Redirect after a POST; for htmx, let htmx follow it as a full navigation. Location and
    HX-Redirect carry the same checked, URI-encoded path."""
    location = iri_to_uri(local_path(location) or url_for("auth.index"))
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)
