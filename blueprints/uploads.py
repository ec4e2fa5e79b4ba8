"""Upload size limits, checked by Content-Length before anything (CSRF protection included) reads the body."""
from flask import current_app, redirect, request

from blueprints import is_htmx
from blueprints.errors import error_response

MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and boundaries around one file
UPLOAD_LIMITS = {}  # endpoint -> (largest file for a config, its translated message for a config)


def limit_upload(endpoint, max_bytes, message, page=None):
    """A POST to `endpoint` carrying a file larger than `max_bytes(config)` is refused with 413 and
    `message(config)` by its Content-Length, before CSRF protection (or anything else) reads the body.
    With `page()` (a URL), a form posted without htmx is sent there instead (303), to a page that shows the
    message at the field: nothing has run yet that could render the form itself."""
    UPLOAD_LIMITS[endpoint] = (max_bytes, message, page)


def upload_size_gate():
    """The first before_request hook of the app (see app.register_request_hooks)."""
    limits = UPLOAD_LIMITS.get(request.endpoint)
    if limits is None or request.method != "POST":
        return None
    max_bytes, message, page = limits
    limit = max_bytes(current_app.config) + MULTIPART_OVERHEAD
    if request.content_length is not None and request.content_length > limit:
        if page is not None and not is_htmx():
            return redirect(page(), 303)

        return error_response(413, str(message(current_app.config)))
    request.max_content_length = limit  # also bounds a body sent without Content-Length
    return None
