"""A short, readable device name ("Firefox on Windows") from a User-Agent header."""
import re

# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Yandex Browser", r"YaBrowser/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"curl/(\d+)"),
    ("Python", r"python-requests/(\d+)|Python-urllib/(\d+)"),
)
SYSTEMS = (
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux|X11"),
)


def describe(user_agent):
    """(browser, system), each possibly "" when not recognised."""
    user_agent = user_agent or ""
    browser = ""
    for name, pattern in BROWSERS:
        match = re.search(pattern, user_agent)
        if match:
            version = next((g for g in match.groups() if g), "")
            browser = f"{name} {version}".strip()
            break
    system = next((name for name, pattern in SYSTEMS if re.search(pattern, user_agent)), "")
    return browser, system
