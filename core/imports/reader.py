"""Recognise and read a shop's order file, streamed (issue 11, items 1 and 2; R57, R58).

``detect`` looks at the first bytes and the header row only; ``read_orders`` reads the file
row by row through ``csv`` over a text stream and keeps only the lines of the current order,
so memory stays flat whatever the file's size. Consecutive lines with one order number are one
order; a line that cannot be read refuses its whole order (``RefusedRow`` with line, column and
a Japanese reason) and the reading goes on.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final

from core.clock import clock_from_env
from core.errors import BadInput
from core.imports.formats import BUILTIN
from core.imports.formats.base import FormatSpec, Layout, resolve
from core.imports.mapping import ColumnMapping
from core.imports.model import DetectedFile, ImportedItem, ImportedOrder, RefusedRow
from core.imports.values import (
    CHARGE_PERMISSION_RE,
    check_charge_id,
    check_charge_permission_id,
    check_order_amount,
    check_order_date,
    parse_amount,
    parse_datetime,
    parse_kind,
    parse_quantity,
    payment_method,
)

_HEAD_BYTES: Final = 64 * 1024
_CHUNK: Final = 1024 * 1024
_ENCODING_NAMES: Final = {
    "cp932": "cp932",
    "ms932": "cp932",
    "windows-31j": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "sjis-win": "cp932",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf_8_sig": "utf-8-sig",
}
_ENCODING_LABELS: Final = {"cp932": "CP932（Shift_JIS）", "utf-8": "UTF-8", "utf-8-sig": "UTF-8（BOM付き）"}
_FORMAT_LIST: Final = "futureshop, eccube, shopify, amazon-orders"


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, hex (the import journal's key for "the same file")."""
    digest = hashlib.sha256()
    with _open_binary(path) as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def detect(
    path: Path,
    *,
    format: str = "auto",
    encoding: str = "auto",
    mappings: Mapping[str, ColumnMapping] | None = None,
) -> DetectedFile:
    """The file's format, encoding and delimiter, from its first bytes and header row.

    Raises:
        BadInput: the encoding or the format cannot be recognised, or a required column is
            missing (named), in one Japanese sentence.
    """
    _refuse_non_text(path)
    chosen_encoding = _detect_encoding(path) if encoding == "auto" else _named_encoding(path, encoding)
    with _open_binary(path) as stream:
        first_line = next(_text_lines(stream, chosen_encoding), "")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    headers = _header_row(csv.reader([first_line], delimiter=delimiter))
    spec = _choose_spec(headers, format, mappings or {})
    _refuse_duplicates(resolve(spec, headers)[0])
    return DetectedFile(format=spec.name, encoding=chosen_encoding, delimiter=delimiter)


def read_headers(path: Path, *, encoding: str = "auto") -> tuple[str, ...]:
    """The file's header row (its column names), for a column mapping editor.

    Raises:
        BadInput: the file cannot be opened or decoded, or has no header row.
    """
    _refuse_non_text(path)
    chosen_encoding = _detect_encoding(path) if encoding == "auto" else _named_encoding(path, encoding)
    with _open_binary(path) as stream:
        first_line = next(_text_lines(stream, chosen_encoding), "")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    return _header_row(csv.reader([first_line], delimiter=delimiter))


def read_orders(
    path: Path,
    detected: DetectedFile,
    *,
    mappings: Mapping[str, ColumnMapping] | None = None,
    now: datetime | None = None,
) -> Iterator[ImportedOrder | RefusedRow]:
    """Stream the file's orders (and refused rows) in file order.

    ``now`` (the injectable clock's; by default ``KANJO_NOW`` or the system's) bounds the order
    dates: a date after ``now`` + 1 day, or before 2000, refuses its order (issue 11 item 9).

    Raises:
        BadInput: the header lacks a required column or names a column it reads twice, a byte
            cannot be decoded in the detected encoding (named with the line), or a quote is not
            closed before the end of the file (named with the line it opened on), during iteration.
    """
    if now is None:
        now = clock_from_env().now()
    with _open_binary(path) as stream:
        ended: list[bool] = []
        reader = csv.reader(_watch_end(_text_lines(stream, detected.encoding), ended), delimiter=detected.delimiter)
        headers = _header_row(reader)
        spec = _spec_for(detected.format, headers, mappings or {})
        layout, missing = resolve(spec, headers)
        if missing:
            raise BadInput(_missing_message(spec, missing))
        _refuse_duplicates(layout)
        number_index = layout.fields["number"][0]
        group: list[tuple[int, list[str]]] = []
        current = ""
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise BadInput(f"{start}行目をCSVとして読めません（引用符の対応などを確認してください）。") from exc
            if ended:
                # csv asked for a line past the end inside this row: a quote opened and never
                # closed, and the rest of the file went into one cell. Nothing of it is guessed.
                raise BadInput(
                    f'{start}行目で始まる引用符（"）が閉じられていないため、{start}行目から最後までを読めません。'
                    "引用符の対応を確認してください。"
                )
            if not any(cell.strip() for cell in row):
                continue
            number = row[number_index].strip() if number_index < len(row) else ""
            if not number:
                yield RefusedRow(start, layout.headers[number_index], f"{layout.headers[number_index]}が空です。")
                continue
            if group and number != current:
                yield from _build(layout, current, group, now)
                group = []
            current = number
            group.append((start, row))
        if group:
            yield from _build(layout, current, group, now)


# --- encodings ---------------------------------------------------------------------------


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise BadInput(f"ファイルが見つかりません: {path}") from exc
    except IsADirectoryError as exc:
        raise BadInput(f"フォルダーではなくファイルを指定してください: {path}") from exc
    except OSError as exc:
        raise BadInput(f"ファイルを開けません: {path}（{exc.strerror or type(exc).__name__}）") from exc


def _text_lines(binary: io.BufferedReader, encoding: str) -> Iterator[str]:
    """The file's physical lines (split at LF, so CRLF and LF alike), decoded one by one.

    Decoding line by line names the line of a byte the encoding cannot read; a LF byte is never
    part of a multi-byte character in CP932 or UTF-8, so splitting the bytes there is safe.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 0
    for number, raw in enumerate(binary, start=1):
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"{number}行目に{_ENCODING_LABELS.get(encoding, encoding)}として読めない文字があります。文字コードを指定し直してください。"
            ) from exc
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{number}行目が{_ENCODING_LABELS.get(encoding, encoding)}の途中で終わっています。") from exc
    if tail:
        yield tail


def _watch_end(lines: Iterable[str], ended: list[bool]) -> Iterator[str]:
    """``lines``, then a mark in ``ended`` once they are exhausted (no cost per line)."""
    yield from lines
    ended.append(True)


# Files people pick by mistake instead of a CSV export: (first bytes, what it is).
_NOT_TEXT: Final = (
    (b"PK\x03\x04", "Excel(.xlsx)またはZIPのファイル"),
    (b"PK\x05\x06", "ZIPのファイル"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel(.xls)などのファイル"),
    (b"%PDF", "PDFのファイル"),
    (b"\x89PNG\r\n\x1a\n", "画像(PNG)のファイル"),
    (b"\xff\xd8\xff", "画像(JPEG)のファイル"),
    (b"GIF87a", "画像(GIF)のファイル"),
    (b"GIF89a", "画像(GIF)のファイル"),
    (b"\x1f\x8b", "圧縮(gzip)されたファイル"),
    (b"7z\xbc\xaf\x27\x1c", "圧縮(7z)されたファイル"),
    (b"Rar!", "圧縮(RAR)されたファイル"),
)


def _refuse_non_text(path: Path) -> None:
    """A spreadsheet, archive, PDF or image is named as such, not as an encoding problem.

    Raises:
        BadInput: the file starts like one of those (or holds NUL bytes: not a text file).
    """
    with _open_binary(path) as stream:
        head = stream.read(4096)
    kind = next((label for magic, label in _NOT_TEXT if head.startswith(magic)), None)
    if kind is None and b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        kind = "テキストではないファイル"
    if kind is not None:
        raise BadInput(
            f"CSV/TSVファイルではありません({kind}のようです)。"
            "Excelの場合は「CSV UTF-8(コンマ区切り)」などのCSV形式で保存してから取り込んでください。"
        )


def _refuse_duplicates(layout: Layout) -> None:
    """A header the format reads that appears twice: which one holds the value is not guessed.

    Raises:
        BadInput: naming the column and its two positions (1-based).
    """
    read = sorted({index for indices in layout.fields.values() for index in indices})
    for index in read:
        name = layout.headers[index]
        again = next((i for i, header in enumerate(layout.headers) if header == name and i != index), None)
        if again is not None:
            first, second = sorted((index, again))
            raise BadInput(
                f"見出し「{name}」が{first + 1}列目と{second + 1}列目の2か所にあり、どちらを読むか決められません。"
                "一方の列名を変えるか削除してから取り込んでください。"
            )


def _detect_encoding(path: Path) -> str:
    """BOM → utf-8-sig; the first non-ASCII bytes decode as strict UTF-8 → utf-8; else cp932."""
    with _open_binary(path) as stream:
        head = stream.read(len(codecs.BOM_UTF8))
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        stream.seek(0)
        # An ASCII-only head says nothing: look on, chunk by chunk, for the first non-ASCII byte.
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                return "utf-8"
            position = next((i for i, byte in enumerate(chunk) if byte >= 0x80), -1) if not chunk.isascii() else -1
            if position >= 0:
                sample = chunk[position : position + _HEAD_BYTES]
                # Only a sample that runs to the file's end may end in a cut character: a cut
                # inside the chunk (a file shorter than a chunk, longer than the sample) is not.
                reaches_chunk_end = position + len(sample) == len(chunk)
                if len(sample) < _HEAD_BYTES:
                    sample += stream.read(_HEAD_BYTES - len(sample))
                at_end = reaches_chunk_end and not stream.peek(1)
                break
    for candidate in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(candidate)().decode(sample, final=at_end)
        except UnicodeDecodeError:
            continue
        return candidate
    raise BadInput(
        "ファイルの文字コードを判別できません（CP932／Shift_JIS、UTF-8、BOM付きUTF-8 のいずれかで保存してください）。"
    )


def _named_encoding(path: Path, encoding: str) -> str:
    name = _ENCODING_NAMES.get(encoding.strip().lower())
    if name is None:
        raise BadInput(f"文字コード「{encoding}」には対応していません（auto, cp932, utf-8, utf-8-sig のいずれか）。")
    if name == "utf-8":
        with _open_binary(path) as stream:
            if stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
                return "utf-8-sig"
    return name


def _header_row(rows: Iterator[list[str]]) -> tuple[str, ...]:
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise BadInput("見出し行をCSVとして読めません。") from exc
    if not header or not any(cell.strip() for cell in header):
        raise BadInput("ファイルが空か、1行目に見出し行がありません。")
    return tuple(cell.strip() for cell in header)


# --- formats -----------------------------------------------------------------------------


def _spec_for(name: str, headers: tuple[str, ...], mappings: Mapping[str, ColumnMapping]) -> FormatSpec:
    if name in BUILTIN:
        return BUILTIN[name]
    if name in mappings:
        return mappings[name].to_spec(headers)
    raise BadInput(f"形式「{name}」は不明です（auto, {_FORMAT_LIST} または保存したマッピングの名前）。")


def _choose_spec(headers: tuple[str, ...], name: str, mappings: Mapping[str, ColumnMapping]) -> FormatSpec:
    if name != "auto":
        spec = _spec_for(name, headers, mappings)
        _, missing = resolve(spec, headers)
        if missing:
            raise BadInput(_missing_message(spec, missing))
        return spec
    candidates = [*BUILTIN.values(), *(m.to_spec(headers) for m in mappings.values())]
    best: tuple[int, FormatSpec] | None = None
    closest: tuple[float, FormatSpec, list[str]] | None = None
    for spec in candidates:
        layout, missing = resolve(spec, headers)
        if not missing:
            score = len(layout.fields)
            if best is None or score > best[0]:
                best = (score, spec)
        elif spec.name in BUILTIN:
            share = len(missing) / len(spec.required)
            if share < 1 and (closest is None or share < closest[0]):
                closest = (share, spec, missing)
    if best is not None:
        return best[1]
    if closest is not None:
        raise BadInput(_missing_message(closest[1], closest[2]))
    raise BadInput(
        "注文ファイルの形式を判別できません（見出し行が futureshop・EC-CUBE・Shopify・Amazon 注文レポートのどれとも合いません。ほかの形式は列のマッピングを保存して指定してください）。"
    )


def _missing_message(spec: FormatSpec, missing: list[str]) -> str:
    return f"{spec.label}に必要な列がありません: {'、'.join(missing)}"


# --- one order ---------------------------------------------------------------------------


def _cell(layout: Layout, row: list[str], key: str) -> str:
    index = layout.single.get(key)
    if index is not None:  # the common case, without building a list (hot: ~25 calls a line)
        return row[index].strip() if index < len(row) else ""
    indices = layout.fields.get(key, ())
    parts = [row[i].strip() for i in indices if i < len(row) and row[i].strip()]
    return " ".join(parts)


def _row_values(layout: Layout, row: list[str]) -> dict[str, str]:
    """Every field of ``row`` at once, as :func:`_cell` reads each (an order's first row gives
    most of its fields: one pass instead of a call per field)."""
    size = len(row)
    values = {key: (row[index].strip() if index < size else "") for key, index in layout.single.items()}
    for key, indices in layout.multi.items():
        values[key] = " ".join(part for part in (row[i].strip() for i in indices if i < size) if part)
    return values


def _build(
    layout: Layout, number: str, group: list[tuple[int, list[str]]], now: datetime
) -> Iterator[ImportedOrder | RefusedRow]:
    spec = layout.spec
    problems: list[RefusedRow] = []
    first_line, first = group[0]
    head = _row_values(layout, first)

    labels = layout.labels

    def header(key: str) -> str:
        return labels.get(key, key)

    def empty(key: str) -> str:
        if key in layout.fields:
            return f"{header(key)}が空です。"
        # A saved mapping that names no column for it (a stale one: saving checks this now).
        return f"{header(key)}の列がありません(列のマッピングで{header(key)}の列を指定してください)。"

    def amount(line: int, row: list[str], key: str, *, required: bool, text: str | None = None) -> int | None:
        if text is None:
            text = _cell(layout, row, key)
        if not text:
            if required:
                problems.append(RefusedRow(line, header(key), empty(key)))
            return None
        try:
            return check_order_amount(parse_amount(text, header(key)), header(key))
        except BadInput as exc:
            problems.append(RefusedRow(line, header(key), exc.message))
            return None

    ordered_at = None
    text = head.get("ordered_at", "")
    if not text:
        problems.append(RefusedRow(first_line, header("ordered_at"), empty("ordered_at")))
    else:
        try:
            ordered_at = check_order_date(parse_datetime(text, header("ordered_at")), text, header("ordered_at"), now)
        except BadInput as exc:
            problems.append(RefusedRow(first_line, header("ordered_at"), exc.message))

    kind = spec.kind
    kind_text = head.get("order_kind", "") if spec.kind != "marketplace" else ""
    if kind_text:
        try:
            kind = parse_kind(kind_text, header("order_kind"))
        except BadInput as exc:
            problems.append(RefusedRow(first_line, header("order_kind"), exc.message))

    total: int | None = None
    shipping_fee = 0
    if not spec.line_amounts:
        total = amount(first_line, first, "total", required=True, text=head.get("total", ""))
        shipping_fee = amount(first_line, first, "shipping_fee", required=False, text=head.get("shipping_fee", "")) or 0
        for line, row in group[1:]:
            if spec.order_fields_first_line_only and not _cell(layout, row, "total"):
                continue
            other = amount(line, row, "total", required=True)
            if other is not None and total is not None and other != total:
                problems.append(
                    RefusedRow(
                        line,
                        header("total"),
                        f"注文番号 {number} の{header('total')}が行によって違います（{first_line}行目は{total:,}円、この行は{other:,}円）。",
                    )
                )

    items: list[ImportedItem] = []
    line_sum = 0
    for line, row in group:
        name = _cell(layout, row, "item_name")
        sku = _cell(layout, row, "item_sku")
        price_text = _cell(layout, row, "item_price")
        quantity_text = _cell(layout, row, "item_quantity")
        if not (name or sku or price_text or quantity_text):
            continue
        price = amount(line, row, "item_price", required=True, text=price_text)
        cost = amount(line, row, "item_cost", required=False) or 0  # issue 15: when the file has one
        quantity = None
        if not quantity_text:
            problems.append(RefusedRow(line, header("item_quantity"), empty("item_quantity")))
        else:
            try:
                quantity = parse_quantity(quantity_text, header("item_quantity"))
            except BadInput as exc:
                problems.append(RefusedRow(line, header("item_quantity"), exc.message))
        if price is None or quantity is None:
            continue
        if spec.line_amounts:
            # item-price is the line's amount; the unit price shown is its share (floored).
            line_sum += price
            shipping_fee += amount(line, row, "shipping_fee", required=False) or 0
            items.append(ImportedItem(sku, name, price // quantity, quantity, cost))
        else:
            items.append(ImportedItem(sku, name, price, quantity, cost))
    if spec.line_amounts:
        total = line_sum + shipping_fee
        if not problems:
            try:
                check_order_amount(total, f"注文番号 {number} の合計")
            except BadInput as exc:
                problems.append(RefusedRow(first_line, header("item_price"), exc.message))

    # Issue 11 item 11: an ID without Amazon's shape is refused here, before any call.
    charge_permission_id = head.get("charge_permission_id", "") or None
    if charge_permission_id is not None:
        try:
            check_charge_permission_id(charge_permission_id)
        except BadInput as exc:
            problems.append(RefusedRow(first_line, header("charge_permission_id"), exc.message))
    charge_ids: list[str] = []
    for line, row in group:
        for charge_id in _cell(layout, row, "charge_ids").replace(",", " ").split():
            try:
                check_charge_id(charge_id)
            except BadInput as exc:
                problems.append(RefusedRow(line, header("charge_ids"), exc.message))
                continue
            if charge_id not in charge_ids:
                charge_ids.append(charge_id)

    if problems:
        yield from problems
        return
    assert ordered_at is not None and total is not None

    label = head.get("payment_label", "")
    if charge_permission_id is None:
        reference = head.get("payment_reference", "")
        if CHARGE_PERMISSION_RE.fullmatch(reference):
            charge_permission_id = reference
    method = payment_method(label)
    if method == "other" and not label and charge_permission_id is not None and spec.kind != "marketplace":
        method = "amazon_pay"

    yield ImportedOrder(
        number=number,
        line=first_line,
        ordered_at=ordered_at,
        kind=kind,
        customer_name=head.get("customer_name", ""),
        customer_reading=head.get("customer_reading", ""),
        customer_email=head.get("customer_email", ""),
        customer_phone=head.get("customer_phone", ""),
        ship_name=head.get("ship_name", ""),
        ship_postal_code=head.get("ship_postal_code", ""),
        ship_prefecture=head.get("ship_prefecture", ""),
        ship_address=head.get("ship_address", ""),
        ship_phone=head.get("ship_phone", ""),
        items=tuple(items),
        shipping_fee=shipping_fee,
        total=total,
        payment_method=method,
        payment_label=label,
        charge_permission_id=charge_permission_id,
        charge_ids=tuple(charge_ids),
        tracking_number=head.get("tracking_number", "") or None,
        order_status=head.get("order_status", "") or None,
        extra={layout.headers[i]: (first[i] if i < len(first) else "") for i in layout.extra},
    )
