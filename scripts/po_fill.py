"""Fill Russian translations from a JSON file {msgid: msgstr} into translations/ru/LC_MESSAGES/messages.po.

Usage: python scripts/po_fill.py translations.json   (prints the msgids still untranslated)
"""
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "translations/ru/LC_MESSAGES/messages.po"


def main(path):
    with PO.open("rb") as f:
        catalog = read_po(f, locale="ru")
    new = json.loads(Path(path).read_text()) if path else {}
    for message in catalog:
        if message.id and message.id in new:
            message.string = new[message.id]
            message.flags.discard("fuzzy")
    with PO.open("wb") as f:
        write_po(f, catalog, ignore_obsolete=True, include_previous=False)
    missing = [m.id for m in catalog if m.id and (not m.string or "fuzzy" in m.flags)]
    for msgid in missing:
        print(json.dumps(msgid, ensure_ascii=False))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
