"""The app's error page: a translated message per status, as a whole page or into the page's message area."""
from flask import make_response
from flask_babel import gettext as _

from blueprints import render, wants_fragment


def error_message(code):
    return {
        400: _("The request could not be understood. Check the form and try again."),
        403: _("You do not have access to this page, or the form has expired. Reload the page and try again."),
        404: _("This page does not exist."),
        405: _("This action is not available here."),
        413: _("The upload is too large."),
        429: _("Too many requests. Wait a little and try again."),
        500: _("Something went wrong on our side. Your data is safe; please try again."),
        503: _("The service is briefly unavailable. Please try again in a moment."),
    }.get(code, _("Something went wrong. Please try again."))


def error_response(code, message=None):
    response = render("errors/error.html", block="error", status=code, code=code, message=message or error_message(code))
    if wants_fragment():
        # Errors go to the page's message area instead of replacing the small part that asked.
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    return make_response(response)
