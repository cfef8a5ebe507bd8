"""The 通报 as a Word file laid out per 党政机关公文格式 (GB/T 9704-2012), written with python-docx.

A4 with a 156 × 225 mm type area (天头 37 mm, 订口 28 mm); the red 发文机关标志, the 期号 line and a red
separator; the title in 小标宋 2号 (22 pt); 主送机关; the body in 仿宋_GB2312 3号 (16 pt) on a grid of 22
lines × 28 characters (exact line spacing and the section's character grid); headings 黑体; the ranking as a
table; 红榜/黑榜; the 督办 section; 落款 and 成文日期; page numbers "— 1 —" in 4号 at the foot, odd pages
right and even pages left. Government fonts are named as East Asian fonts with a common fallback declared
in the file's font table (方正小标宋简体 → 宋体, 仿宋_GB2312 → 仿宋, charset GB2312), so a machine without
them shows 宋体/仿宋 and never boxes. It reads what ``bulletins.present`` gives the page, so the file, the
page and the preview show the same figures.
"""

import io

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

from outreach.lib import metrics as m

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"
# Font → the common font a machine without it shows (declared as w:altName in the font table).
FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", HEADING_FONT: "SimHei", NUMBER_FONT: "SimSun"}
RED = RGBColor(0xFF, 0x00, 0x00)

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
TOP, LEFT = Mm(37), Mm(28)
TYPE_WIDTH, TYPE_HEIGHT = Mm(156), Mm(225)
LINES, CHARS = 22, 28
BODY_SIZE = Pt(16)  # 3号
TITLE_SIZE = Pt(22)  # 2号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
TABLE_SIZE = Pt(12)  # 小四: a ranking table of 13 counties fits the type area's width
LINE_PITCH = Pt(28.95)  # 22 lines in the 225 mm type area (637.8 pt ÷ 22 = 28.99 pt, rounded down to 579 twips)


def bulletin_docx(shown: dict) -> bytes:
    """The .docx bytes of a bulletin (or of a draft) as ``bulletins.present`` reads it."""
    draft, metric = shown["draft"], shown["metric"]
    doc = Document()
    _page_setup(doc)
    _styles(doc)
    _font_table(doc)

    _para(doc, draft.issuer, font=TITLE_FONT, size=Pt(26), color=RED, align="center", spacing=Pt(40))
    number = draft.label if draft.pk else f"{draft.label}（草稿，签发时编号）"
    _para(doc, number, align="center")
    _red_rule(doc)
    _para(doc, "")
    _para(doc, draft.title, font=TITLE_FONT, size=TITLE_SIZE, align="center", spacing=Pt(36))
    _para(doc, "")
    if draft.main_recipients:
        _para(doc, f"{draft.main_recipients}：")
    _para(doc, shown["opening"], indent=True)
    if draft.note:
        for text in draft.note.splitlines():
            if text.strip():
                _para(doc, text.strip(), indent=True)
    if shown.get("denominators"):
        _para(doc, f"{shown['denominators']}。", indent=True)
    if shown.get("corrections"):
        _para(doc, shown["corrections"], indent=True)

    _para(doc, "一、红榜（前三名）", font=HEADING_FONT, indent=True)
    _para(doc, _listing(shown["top"], metric) or "无。", indent=True)
    _para(doc, "二、黑榜（后三名）", font=HEADING_FONT, indent=True)
    bottom = _listing(shown["bottom"], metric, streaks=True)
    _para(doc, bottom or "无。", indent=True)

    _para(doc, "三、排名情况", font=HEADING_FONT, indent=True)
    _ranking_table(doc, shown)

    _para(doc, "四、督办", font=HEADING_FONT, indent=True)
    for text in supervision_paragraphs(shown):
        _para(doc, text, indent=True)

    _para(doc, "")
    _para(doc, draft.issuer, align="right", right_indent=Pt(64))
    _para(doc, shown["date_text"] or "（签发日期）", align="right", right_indent=Pt(48))
    if draft.copy_to:
        _para(doc, "")
        _para(doc, f"抄送：{draft.copy_to}。")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def supervision_paragraphs(shown: dict) -> list[str]:
    """The 督办 section's text: the units flagged by the bottom streak (and the orders, when given)."""
    flagged = shown["flagged"]
    paragraphs = []
    if flagged:
        names = "、".join(f"{line['name']}（连续{line['bottom_streak']}期）" for line in flagged)
        paragraphs.append(f"连续{shown['streak_n']}期及以上排名后三、须约谈督办：{names}。")
    paragraphs += shown.get("orders", [])
    if shown.get("previous_orders"):
        paragraphs.append("上期督办整改情况：")
        paragraphs += shown["previous_orders"]
    return paragraphs or ["本期无须督办的单位。"]


def _listing(lines, metric, streaks: bool = False) -> str:
    parts = []
    for line in lines:
        text = f"{line['name']}（{metric.name}{line['value']}"
        if streaks and line["bottom_streak"] > 1:
            text += f"，连续{line['bottom_streak']}期排名后三"
        parts.append(text + "）")
    return "、".join(parts) + "。" if parts else ""


def table_columns(metric: m.Metric) -> list[str]:
    """The ranking table's header: rank, unit, the metric's parts, the metric and the rank move."""
    columns = ["名次", "单位", m.FIGURES[metric.numerator]]
    if metric.denominator:
        columns.append(m.FIGURES[metric.denominator])
    return [*columns, metric.name, "较上期"]


def table_row(line: dict, metric: m.Metric) -> list[str]:
    row = [str(line["rank"]) if line["rank"] is not None else m.DASH, line["name"], line["shown"][metric.numerator]]
    if metric.denominator:
        row.append(line["shown"][metric.denominator])
    return [*row, line["value"], line["rank_change_text"]]


def _ranking_table(doc, shown: dict) -> None:
    metric = shown["metric"]
    header = table_columns(metric)
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        _cell(cell, text, bold=True)
    _repeat_header(table.rows[0])
    for line in shown["lines"]:
        cells = table.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, table_row(line, metric), strict=True)):
            _cell(cell, text, align="left" if i == 1 else "center")


def _cell(cell, text: str, bold: bool = False, align: str = "center") -> None:
    paragraph = cell.paragraphs[0]
    paragraph.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "left": WD_ALIGN_PARAGRAPH.LEFT}[align]
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.first_line_indent = Pt(0)
    run = paragraph.add_run(text)
    _font(run, BODY_FONT, TABLE_SIZE)
    run.bold = bold


def _repeat_header(row) -> None:
    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _page_setup(doc) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.left_margin = TOP, LEFT
    section.right_margin = PAGE_WIDTH - LEFT - TYPE_WIDTH
    section.bottom_margin = PAGE_HEIGHT - TOP - TYPE_HEIGHT
    section.footer_distance = Mm(28) - Mm(7)  # the page number sits about 7 mm below the type area
    # The character grid: 22 lines of 28 characters of the 16 pt body font.
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    line_pitch_twips = round(LINE_PITCH.pt * 20)
    char_pitch = TYPE_WIDTH / CHARS  # EMU
    char_space = round((char_pitch - BODY_SIZE) / 12700 * 4096)  # 1/4096 pt beyond the font size
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(line_pitch_twips))
    grid.set(qn("w:charSpace"), str(char_space))
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer, "right")
    _page_number(section.even_page_footer, "left")


def _page_number(footer, side: str) -> None:
    """ "— 1 —" with a PAGE field, one character in from the outer edge."""
    footer.is_linked_to_previous = False
    paragraph = footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if side == "right" else WD_ALIGN_PARAGRAPH.LEFT
    fmt = paragraph.paragraph_format
    fmt.first_line_indent = Pt(0)
    if side == "right":
        fmt.right_indent = PAGE_NUMBER_SIZE
    else:
        fmt.left_indent = PAGE_NUMBER_SIZE
    _font(paragraph.add_run("— "), NUMBER_FONT, PAGE_NUMBER_SIZE)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        _font(run, NUMBER_FONT, PAGE_NUMBER_SIZE)
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            run.text = text
    _font(paragraph.add_run(" —"), NUMBER_FONT, PAGE_NUMBER_SIZE)


def _styles(doc) -> None:
    normal = doc.styles["Normal"]
    _font(normal, BODY_FONT, BODY_SIZE)
    fmt = normal.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = False


def _font_table(doc) -> None:
    """Declare each government font with its fallback and the GB2312 charset, so a substitute is CJK."""
    fonts = next(rel.target_part for rel in doc.part.rels.values() if rel.reltype.endswith("/fontTable"))
    root = etree.fromstring(fonts.blob)
    for name, fallback in FALLBACKS.items():
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        for tag, value in (("altName", fallback), ("charset", "86"), ("family", "auto"), ("pitch", "variable")):
            child = OxmlElement(f"w:{tag}")
            child.set(qn("w:val"), value)
            font.append(child)
        root.append(font)
    fonts._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _font(target, east_asia: str, size) -> None:
    """Name ``east_asia`` for Chinese text (Times New Roman for Latin and digits) on a run or a style."""
    target.font.name = LATIN_FONT
    target.font.size = size
    properties = target.element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        properties.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)


def _para(
    doc,
    text: str,
    *,
    font: str = BODY_FONT,
    size=BODY_SIZE,
    color=None,
    align: str = "justify",
    indent: bool = False,
    spacing=None,
    right_indent=None,
):
    paragraph = doc.add_paragraph()
    paragraph.alignment = {
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "right": WD_ALIGN_PARAGRAPH.RIGHT,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[align]
    fmt = paragraph.paragraph_format
    if indent:
        fmt.first_line_indent = BODY_SIZE * 2
    if spacing is not None:
        fmt.line_spacing = spacing
    if right_indent is not None:
        fmt.right_indent = right_indent
    if text:
        run = paragraph.add_run(text)
        _font(run, font, size)
        if color is not None:
            run.font.color.rgb = color
    return paragraph


def _red_rule(doc) -> None:
    """The red separator under the 期号 line (a paragraph's bottom border, 156 mm wide like the type area)."""
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing = Pt(8)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), "12")
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "FF0000")
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)
