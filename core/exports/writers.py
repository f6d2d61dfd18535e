"""Writing a table for the accountant: CSV in CP932 or UTF-8 with BOM, or .xlsx.

CP932 cannot hold every character (e.g. 𠮷, emoji, some accented letters); each such character
is replaced by 〓 (GETA MARK, the visible "character missing here" of Japanese printing) and
counted, never dropped. The .xlsx is written with the standard library (zipfile + XML), streamed
row by row: yen are numbers, dates are date serials with a date style, so Excel sums and sorts
them. openpyxl is not a dependency of Kanjo; the file is plain Office Open XML (ECMA-376).
"""

from __future__ import annotations

import csv
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from core.clock import to_jst

REPLACEMENT = "〓"
FORMATS = ("csv", "xlsx")
ENCODINGS = ("cp932", "utf-8-sig")
Cell = str | int | date | datetime | None


@dataclass(frozen=True)
class WriteResult:
    path: str
    rows: int
    replaced: int  # characters CP932 could not hold, written as 〓

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "rows": self.rows, "replaced_characters": self.replaced}


def cp932_safe(text: str) -> tuple[str, int]:
    """``text`` with every character CP932 cannot encode replaced by 〓, and how many were."""
    try:
        text.encode("cp932")
        return text, 0
    except UnicodeEncodeError:
        pass
    out, count = [], 0
    for char in text:
        try:
            char.encode("cp932")
            out.append(char)
        except UnicodeEncodeError:
            out.append(REPLACEMENT)
            count += 1
    return "".join(out), count


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_jst(value).strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return str(value)


def _atomic(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]], encoding: str) -> WriteResult:
    if encoding not in ENCODINGS:
        raise ValueError(encoding)
    fd, temporary = _atomic(path)
    replaced = count = 0
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            for record in ([*header],) if header else ():
                writer.writerow(record)
            for row in rows:
                cells = []
                for value in row:
                    text = _text(value)
                    if encoding == "cp932":
                        text, missing = cp932_safe(text)
                        replaced += missing
                    cells.append(text)
                writer.writerow(cells)
                count += 1
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return WriteResult(str(path), count, replaced)


_EPOCH = datetime(1899, 12, 30)
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy/mm/dd"/><numFmt numFmtId="165" formatCode="yyyy/mm/dd hh:mm:ss"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="5">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: Cell, *, bold: bool = False) -> str:
    if value is None:
        return f'<c r="{ref}" t="inlineStr"><is><t></t></is></c>'
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f'<c r="{ref}" s="3"><v>{value}</v></c>'
    if isinstance(value, datetime):
        local = to_jst(value).replace(tzinfo=None)
        serial = (local - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="2"><v>{serial:.8f}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="1"><v>{(value - _EPOCH.date()).days}</v></c>'
    text = escape(_clean(str(value)))
    style = ' s="4"' if bold else ""
    return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{text}</t></is></c>'


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters: they become U+FFFD (visible)."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else "\ufffd" for c in text)


def write_xlsx(path: Path, sheet: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> WriteResult:
    fd, temporary = _atomic(path)
    os.close(fd)
    count = 0
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                "</Types>",
            )
            archive.writestr(
                "_rels/.rels",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                "</Relationships>",
            )
            archive.writestr(
                "xl/workbook.xml",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f'<sheets><sheet name="{escape(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>',
            )
            archive.writestr(
                "xl/_rels/workbook.xml.rels",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
                "</Relationships>",
            )
            archive.writestr("xl/styles.xml", _STYLES)
            with archive.open("xl/worksheets/sheet1.xml", "w") as handle:
                handle.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                )
                number = 1
                cells = "".join(_cell(f"{_column(i)}1", name, bold=True) for i, name in enumerate(header))
                handle.write(f'<row r="1">{cells}</row>'.encode())
                for row in rows:
                    number += 1
                    cells = "".join(_cell(f"{_column(i)}{number}", value) for i, value in enumerate(row))
                    handle.write(f'<row r="{number}">{cells}</row>'.encode())
                    count += 1
                handle.write(b"</sheetData></worksheet>")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return WriteResult(str(path), count, 0)


def read_xlsx(path: Path) -> list[list[object]]:
    """The cells of the first sheet, typed as written (numbers, date serials as floats/ints,
    strings) — for tests and for checking an export without openpyxl."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as archive:
        root = ET.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    table: list[list[object]] = []
    for row in root.iterfind(".//m:sheetData/m:row", ns):
        values: list[object] = []
        for cell in row.iterfind("m:c", ns):
            if cell.get("t") == "inlineStr":
                values.append("".join(t.text or "" for t in cell.iterfind(".//m:t", ns)))
                continue
            text = cell.findtext("m:v", default="", namespaces=ns)
            style = cell.get("s")
            if style == "1":
                values.append(_EPOCH.date().fromordinal(_EPOCH.date().toordinal() + int(float(text))))
            elif style == "2":
                from datetime import timedelta

                values.append(_EPOCH + timedelta(days=float(text)))
            else:
                values.append(int(text) if text.lstrip("-").isdigit() else float(text))
        table.append(values)
    return table
