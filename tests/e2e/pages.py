"""One list of pages for the browser checks that walk the app (accessibility, the layout guard, `make screenshots`).

Pages without parameters come from the URL map; for each route with parameters (a user, an event, an invoice...)
the first link to it found on those pages is taken, so new pages are walked without listing them here."""
import re

from werkzeug.exceptions import HTTPException

SIGNED_OUT = ["/login", "/forgot-password"]
HREF = re.compile(r'href="(/(?:app|admin)/[^"#?]*)"')


def page_urls(app):
    """Every GET page without parameters that a signed-in person can open."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and "<" not in rule.rule and rule.rule.startswith(("/app/", "/admin/")):
            urls.append(rule.rule)
    return sorted(set(urls))


def html_page(request, url):
    """The page's HTML when `url` answers 200 with HTML to the signed-in browser context, else None."""
    response = request.get(url, max_redirects=0)
    if response.status != 200 or not response.headers.get("content-type", "").startswith("text/html"):
        return None  # downloads, redirects and pages closed to this person
    return response.text()


def reachable_pages(page, base_url, app):
    """[(endpoint, path)] of every HTML page the signed-in person of `page` can open: the pages without parameters,
    then one page of each route with parameters, found through their links."""
    adapter = app.url_map.bind("localhost")
    found, links = [], []
    for path in page_urls(app):
        body = html_page(page.request, base_url + path)
        if body is not None:
            found.append((adapter.match(path, method="GET")[0], path))
            links += HREF.findall(body)
    seen = {endpoint for endpoint, _path in found}
    for path in links:
        try:
            endpoint, args = adapter.match(path, method="GET")
        except HTTPException:  # no GET route here (405, 404), or a redirect to the path with a slash
            continue
        if endpoint in seen or not args:
            continue
        seen.add(endpoint)
        if html_page(page.request, base_url + path) is not None:
            found.append((endpoint, path))
    return found
