"""Write index.html beside the screenshots `make screenshots` took: one row per page, its pictures at 360 and
1280 px in English and Russian side by side (files named <page>-<width>-<language>.png)."""
import html
import re
import sys
from pathlib import Path

COLUMNS = [(360, "en"), (360, "ru"), (1280, "en"), (1280, "ru")]
NAME = re.compile(r"^(?P<page>.+)-(?P<width>\d+)-(?P<language>[a-z]{2})\.png$")


def main(folder):
    folder = Path(folder)
    pages = sorted({m["page"] for p in folder.glob("*.png") if (m := NAME.match(p.name))})
    head = "".join(f"<th>{width} px, {language.upper()}</th>" for width, language in COLUMNS)
    rows = []
    for page in pages:
        cells = []
        for width, language in COLUMNS:
            name = f"{page}-{width}-{language}.png"
            shown = width // 2 if width > 360 else width * 2 // 3
            cells.append(
                f'<td><a href="{name}"><img src="{name}" width="{shown}" loading="lazy" alt="{html.escape(page)}, {width} px, {language}"></a></td>'
                if (folder / name).exists() else "<td>—</td>"
            )
        rows.append(f'<tr><th scope="row" id="{html.escape(page)}">{html.escape(page)}</th>{"".join(cells)}</tr>')
    (folder / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Kabinet screenshots</title>"
        "<style>body{font:14px system-ui;margin:1rem}td,th{vertical-align:top;padding:4px;text-align:left}"
        "img{border:1px solid #ccc}thead th{position:sticky;top:0;background:#fff}</style>"
        f"<h1>Kabinet: {len(pages)} pages</h1><table><thead><tr><th>Page</th>{head}</tr></thead><tbody>"
        + "\n".join(rows) + "</tbody></table>\n",
        encoding="utf-8",
    )
    print(f"{folder / 'index.html'}: {len(pages)} pages")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/screenshots")
