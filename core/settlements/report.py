"""The Amazon Pay settlement flat file (R60): a header block, then CSV rows read by column name.

The header block holds ``SellerId``, ``SettlementStartDate``, ``SettlementEndDate`` (and
whatever else Amazon puts there) as ``Name,Value`` lines (``Name=Value`` and ``Name: Value``
are read too). The first line that names the columns ``TransactionType`` and ``SettlementId``
starts the rows; columns are found by name, never by position, and columns this module does
not know are kept in ``SettlementRow.extra``. Comma or tab separated, UTF-8 (with or without
BOM) or CP932 — what Seller Central's download gives.

Parsing is streamed: :func:`iter_rows` yields one row at a time, so a report of a million rows
is read in constant memory. Pure: no database, no clock.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.clock import parse_iso
from core.errors import BadInput

TRANSACTION_TYPES = (
    "Capture",
    "Refund",
    "Debt",
    "A-to-z Guarantee Claim",
    "Chargeback",
    "Adjustment",
    "Carryover",
    "Transfer",
)
REQUIRED_COLUMNS = ("SettlementId", "TransactionType", "TransactionAmount")
KNOWN_COLUMNS = (
    "TransactionPostedDate",
    "SettlementId",
    "AmazonTransactionId",
    "AmazonOrderReferenceId",
    "SellerReferenceId",
    "SellerOrderId",
    "TransactionType",
    "TransactionAmount",
    "TotalTransactionFee",
    "NetTransactionAmount",
)
_TYPE_BY_KEY = {re.sub(r"[^a-z]", "", name.lower()): name for name in TRANSACTION_TYPES}
_AMOUNT = re.compile(r"^([+-]?)([0-9]+)(?:\.([0-9]*))?$")


@dataclass(frozen=True)
class ReportHeader:
    seller_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    fields: dict[str, str] = field(default_factory=dict)  # every header line, as written


@dataclass(slots=True)
class SettlementRow:
    """One transaction of a settlement. Amounts are int yen, signed as in the report: a capture
    is positive, its fee negative; a refund negative, its returned fee positive."""

    line: int
    settlement_id: str
    transaction_type: str
    transaction_id: str  # AmazonTransactionId: Charge ID or Refund ID (R57); '' on Transfer and the like
    posted_at: datetime | None
    charge_permission_id: str  # AmazonOrderReferenceId
    seller_reference_id: str
    order_number: str  # SellerOrderId
    amount: int
    fee: int
    net: int
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What makes the row unique within its settlement (a re-read never counts it twice)."""
        return f"{self.transaction_type}|{self.transaction_id}"


def parse_amount(text: str, *, line: int, column: str) -> int:
    """Whole yen from '1000', '-40', '1,000', '¥1,000', '-40.00'; BadInput for anything else."""
    try:
        return int(text)  # the usual cell: a plain whole number
    except ValueError:
        pass
    value = text.strip().replace(",", "").replace("¥", "").replace("￥", "").replace("JPY", "").strip()
    if not value:
        return 0
    match = _AMOUNT.match(value)
    if match is None or (match.group(3) and match.group(3).strip("0")):
        raise BadInput(f"精算レポートの{line}行目、{column}の金額を読めません: 「{text[:40]}」(円単位の整数)")
    number = int(match.group(2))
    return -number if match.group(1) == "-" else number


def parse_date(text: str, *, line: int, column: str) -> datetime | None:
    """ISO 8601 or 'YYYY/MM/DD[ HH:MM[:SS]]'; a time without an offset is read as UTC
    (Amazon writes its reports in UTC); ' JST' / ' UTC' suffixes are understood."""
    value = text.strip()
    if not value:
        return None
    if len(value) >= 19 and value[4] == "-" and value[10] == "T":  # ISO 8601, as Amazon writes it
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    zone = "+00:00"
    upper = value.upper()
    if upper.endswith(" JST"):
        value, zone = value[:-4].strip(), "+09:00"
    elif upper.endswith(" UTC") or upper.endswith(" GMT"):
        value = value[:-4].strip()
    value = value.replace("/", "-")
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
        value += "T00:00:00"
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2} .*", value):
        value = value.replace(" ", "T", 1)
    value = re.sub(r"^(\d{4})-(\d{1,2})-(\d{1,2})", lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", value)
    if not re.search(r"(Z|[+-]\d{2}:?\d{2})$", value):
        value += zone
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadInput(f"精算レポートの{line}行目、{column}の日時を読めません: 「{text[:40]}」") from exc


def transaction_type(text: str, *, line: int) -> str:
    """The canonical name of a transaction type ('A-to-z Guarantee Claim', ...), BadInput if unknown."""
    name = _TYPE_BY_KEY.get(re.sub(r"[^a-z]", "", text.lower()))
    if name is None:
        raise BadInput(
            f"精算レポートの{line}行目の取引種別「{text[:40]}」は知らない種別です"
            f"({', '.join(TRANSACTION_TYPES)} のいずれか)。"
        )
    return name


class SettlementReport:
    """A report being read: ``header`` is known once it is opened, ``rows()`` streams the rows.

    ``lines`` is any iterable of text lines (an open file, ``str.splitlines(True)``).
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._line_number = 0
        self._pending: list[str] = []
        self.header, self.columns, self.delimiter = self._read_header()

    def _read_header(self) -> tuple[ReportHeader, list[str], str]:
        fields: dict[str, str] = {}
        for raw in self._lines:
            self._line_number += 1
            text = raw.lstrip("\ufeff").rstrip("\r\n")
            if not text.strip():
                continue
            delimiter = "\t" if text.count("\t") > text.count(",") else ","
            cells = [c.strip() for c in next(csv.reader([text], delimiter=delimiter))]
            if "TransactionType" in cells and "SettlementId" in cells:
                missing = [name for name in REQUIRED_COLUMNS if name not in cells]
                if missing:
                    raise BadInput(f"精算レポートに必要な列がありません: {', '.join(missing)}")
                if len(set(cells)) != len(cells):
                    raise BadInput("精算レポートの見出しに同じ列名が2回あります。")
                return _header(fields), cells, delimiter
            if len(cells) >= 2 and cells[0] and not any(cells[2:]):
                fields[cells[0]] = cells[1]
                continue
            match = re.match(r"^\s*\"?([A-Za-z][A-Za-z0-9 _-]*)\"?\s*[=:]\s*\"?(.*?)\"?\s*$", text)
            if match:
                fields[match.group(1)] = match.group(2)
                continue
            raise BadInput(
                f"精算レポートの{self._line_number}行目を読めません(ヘッダー部の「項目,値」の形ではありません)。"
            )
        raise BadInput("精算レポートではありません: TransactionType と SettlementId の列の見出しが見つかりません。")

    def rows(self) -> Iterator[SettlementRow]:
        columns = self.columns
        known = set(KNOWN_COLUMNS)
        unknown = [(name, position) for position, name in enumerate(columns) if name not in known]
        width = len(columns) + 1  # one empty cell at the end stands for a column the file lacks
        missing = len(columns)

        def at(name: str) -> int:
            return columns.index(name) if name in columns else missing

        (posted_i, settlement_i, txid_i, permission_i, reference_i, number_i, type_i, amount_i, fee_i, net_i) = (
            at(name) for name in KNOWN_COLUMNS
        )
        types: dict[str, str] = {}  # the few type spellings of the file, checked once each
        # A report's rows share their posting times (a settlement's rows are often posted at the
        # same moment): each text is parsed once, up to a few thousand distinct ones.
        dates: dict[str, datetime | None] = {}
        first_line = self._line_number + 1
        reader = csv.reader(self._lines, delimiter=self.delimiter)
        for offset, cells in enumerate(reader):
            line = first_line + offset
            if len(cells) != width - 1:
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) >= width:
                    raise BadInput(f"精算レポートの{line}行目の列が見出しより多くなっています({len(cells)}列)。")
                cells = cells + [""] * (width - 1 - len(cells))
            cells.append("")
            type_text = cells[type_i]
            kind = types.get(type_text)
            if kind is None:
                kind = types[type_text] = transaction_type(type_text, line=line)
            amount = parse_amount(cells[amount_i], line=line, column="TransactionAmount")
            fee = parse_amount(cells[fee_i], line=line, column="TotalTransactionFee")
            net_text = cells[net_i]
            net = parse_amount(net_text, line=line, column="NetTransactionAmount") if net_text.strip() else amount + fee
            settlement_id = cells[settlement_i].strip()
            if not settlement_id:
                if not any(c.strip() for c in cells):
                    continue
                raise BadInput(f"精算レポートの{line}行目に SettlementId がありません。")
            posted_text = cells[posted_i]
            if posted_text in dates:
                posted = dates[posted_text]
            else:
                posted = parse_date(posted_text, line=line, column="TransactionPostedDate")
                if len(dates) < 4096:
                    dates[posted_text] = posted
            yield SettlementRow(
                line,
                settlement_id,
                kind,
                cells[txid_i].strip(),
                posted,
                cells[permission_i].strip(),
                cells[reference_i].strip(),
                cells[number_i].strip(),
                amount,
                fee,
                net,
                {name: cells[position] for name, position in unknown} if unknown else {},
            )


def _header(fields: dict[str, str]) -> ReportHeader:
    def date(name: str) -> datetime | None:
        text = fields.get(name, "")
        return parse_date(text, line=0, column=name) if text else None

    return ReportHeader(
        seller_id=fields.get("SellerId", ""),
        start=date("SettlementStartDate"),
        end=date("SettlementEndDate"),
        fields=dict(fields),
    )


def decode(data: bytes) -> str:
    """The text of a report file: UTF-8 (BOM or not), else CP932 (Seller Central's older files)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError as exc:
        raise BadInput(
            "精算レポートの文字コードを読めません(UTF-8 か Shift_JIS(CP932) のファイルを指定してください)。"
        ) from exc


def open_text(data: bytes) -> io.StringIO:
    return io.StringIO(decode(data), newline="")


def write_report(
    header: ReportHeader | dict[str, str], rows: Iterable[SettlementRow], *, extra_columns: Iterable[str] = ()
) -> str:
    """The flat file for ``rows`` (the sandbox serves this; tests write their reports with it)."""
    fields = header.fields if isinstance(header, ReportHeader) else header
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for name, value in fields.items():
        writer.writerow([name, value])
    writer.writerow([])
    extra = list(extra_columns)
    writer.writerow([*KNOWN_COLUMNS, *extra])
    for row in rows:
        writer.writerow(
            [
                row.posted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.posted_at else "",
                row.settlement_id,
                row.transaction_id,
                row.charge_permission_id,
                row.seller_reference_id,
                row.order_number,
                row.transaction_type,
                str(row.amount),
                str(row.fee),
                str(row.net),
                *(row.extra.get(name, "") for name in extra),
            ]
        )
    return buffer.getvalue()
