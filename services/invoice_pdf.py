"""The invoice PDF (fpdf2): the layout of the Russian «Счёт на оплату» — the recipient's bank details
in a table at the top, the title with number and date, supplier and buyer, the lines, totals, VAT, the
total in words, the payment purpose and the signature lines. Input: services.invoice_document.build()."""
from pathlib import Path

from flask_babel import gettext as _

FONTS = Path(__file__).resolve().parent / "fonts"  # DejaVu: Cyrillic in every PDF the app makes
LEFT, WIDTH = 15, 180  # mm on A4
ROW = 6


def box(pdf, x, y, w, h, text="", size=9, bold=False, align="L", caption=""):
    """A bordered cell with `text` at its top (wrapped) and an optional small caption at its bottom."""
    pdf.rect(x, y, w, h)
    if text:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.set_xy(x + 1, y + 0.5)
        pdf.multi_cell(w - 2, 4.5, text, align=align, max_line_height=4.5)
    if caption:
        pdf.set_font("DejaVu", "", 7.5)
        pdf.set_xy(x + 1, y + h - 4.5)
        pdf.cell(w - 2, 4, caption)


def bank_table(pdf, doc, y):
    s = doc.seller
    left, mid, right = 105, 20, WIDTH - 125
    x_mid, x_right = LEFT + left, LEFT + left + mid
    box(pdf, LEFT, y, left, 2 * ROW, s.bank, caption=_("Beneficiary's bank"))
    box(pdf, x_mid, y, mid, ROW, _("BIC"))
    box(pdf, x_right, y, right, ROW, s.bic)
    box(pdf, x_mid, y + ROW, mid, ROW, _("Acc. No."))
    box(pdf, x_right, y + ROW, right, ROW, s.corr_account)
    box(pdf, LEFT, y + 2 * ROW, left / 2, ROW, f"{_('TIN')} {s.inn}")
    box(pdf, LEFT + left / 2, y + 2 * ROW, left / 2, ROW, f"{_('KPP')} {s.kpp}")
    box(pdf, LEFT, y + 3 * ROW, left, 2 * ROW, s.name, caption=_("Beneficiary"))
    box(pdf, x_mid, y + 2 * ROW, mid, 3 * ROW, _("Acc. No."))
    box(pdf, x_right, y + 2 * ROW, right, 3 * ROW, s.account)
    return y + 5 * ROW


def labelled(pdf, label, value):
    pdf.set_font("DejaVu", "", 9)
    y = pdf.get_y()
    pdf.set_xy(LEFT, y)
    pdf.multi_cell(35, 4.5, label, align="L")
    label_end = pdf.get_y()
    pdf.set_xy(LEFT + 35, y)
    pdf.set_font("DejaVu", "B", 9)
    pdf.multi_cell(WIDTH - 35, 4.5, value, align="L")
    pdf.set_y(max(label_end, pdf.get_y()) + 2)


def lines_table(pdf, doc):
    pdf.set_font("DejaVu", "", 9)
    pdf.set_x(LEFT)
    from fpdf.fonts import FontFace

    with pdf.table(col_widths=(8, 90, 18, 14, 25, 25), text_align=("CENTER", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT"),
                   line_height=5, first_row_as_headings=True, width=WIDTH, align="LEFT",
                   headings_style=FontFace(emphasis="BOLD")) as table:
        table.row([_("No."), _("Goods (works, services)"), _("Qty"), _("Unit"), _("Price"), _("Amount")])
        for line in doc.lines:
            table.row([str(line.position), line.description, line.quantity, line.unit, line.price, line.amount])


def totals(pdf, doc):
    pdf.ln(2)
    rows = [(_("Total:"), doc.total), (doc.vat_label, doc.vat_amount),
            (_("Total due:"), doc.total)]
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 9)
        pdf.set_x(LEFT)
        pdf.cell(WIDTH - 30, 5, label, align="R")
        pdf.cell(30, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")


def render(doc):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(doc.title)
    pdf.set_creator("Kabinet")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(LEFT, 15, LEFT)
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    pdf.set_line_width(0.2)
    y = 15
    if doc.seller_incomplete:
        pdf.set_font("DejaVu", "", 8)
        pdf.set_xy(LEFT, y)
        pdf.multi_cell(WIDTH, 4, _("The seller's requisites are not complete; ask your account manager for them."))
        y = pdf.get_y() + 2
    y = bank_table(pdf, doc, y)
    pdf.set_xy(LEFT, y + 6)
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(WIDTH, 7, doc.title)
    pdf.set_line_width(0.6)
    pdf.line(LEFT, pdf.get_y() + 1, LEFT + WIDTH, pdf.get_y() + 1)
    pdf.set_line_width(0.2)
    pdf.set_y(pdf.get_y() + 4)
    labelled(pdf, _("Supplier:"), doc.seller_line)
    labelled(pdf, _("Buyer:"), doc.buyer_line)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_x(LEFT)
    pdf.cell(WIDTH, 5, doc.period, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    lines_table(pdf, doc)
    totals(pdf, doc)
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(WIDTH, 5, doc.count_line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(WIDTH, 5, doc.words, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(WIDTH, 5, _("Payment purpose: %(purpose)s", purpose=doc.purpose), align="L", new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_line_width(0.6)
    pdf.line(LEFT, pdf.get_y() + 2, LEFT + WIDTH, pdf.get_y() + 2)
    pdf.set_line_width(0.2)
    y = pdf.get_y() + 12
    for i, (label, name) in enumerate(((_("Director"), doc.seller.director), (_("Accountant"), doc.seller.accountant))):
        x = LEFT + i * WIDTH / 2
        pdf.set_font("DejaVu", "B", 9)
        pdf.set_xy(x, y)
        pdf.cell(25, 5, label)
        pdf.line(x + 25, y + 5, x + 55, y + 5)
        pdf.set_font("DejaVu", "", 9)
        pdf.set_xy(x + 56, y)
        pdf.cell(WIDTH / 2 - 56, 5, name)
    return bytes(pdf.output())
