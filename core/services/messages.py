"""MessageService: templates, composing for an order, sending, and the messages kept with orders.

Issue 5 (R41–R51). Built-in templates are files (``resources/templates``); the operator's own
templates are rows with versions (nothing is overwritten). A message is rendered from a
template for one order (:mod:`core.messages.rendering`, strict and sandboxed), may be edited
as plain text, and is then either

* sent by SMTP: stored as 下書き *before* it is handed to the server, then marked 送信済 or
  送信失敗 with the reason (the text is kept either way); or
* recorded as 手動送信 when the operator copies it to send from their own mail program
  (always possible, and the only way when no SMTP server is set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.clock import Clock, format_jst
from core.db.schema import Message, MessageTemplate, MessageTemplateVersion, Order
from core.errors import BadInput, NotFound, StaleEdit, UserError
from core.messages.builtin import BuiltinTemplate, builtin, builtin_templates
from core.messages.mail import (
    SECURITY_LABELS,
    KeyringPasswords,
    MailError,
    MailSender,
    PasswordStore,
    SmtpConfig,
    SmtpSender,
    build_email,
    smtp_config,
)
from core.messages.rendering import Rendered, check_template, render
from core.messages.status import MessageStatus
from core.messages.suggest import SITUATIONS, Suggestion, suggest
from core.messages.variables import VARIABLES, OrderFacts, Variable, order_variables
from core.queries import MessageView, load_order, message_view, order_detail
from core.settings import AppSettings, SettingsStore, coerce

USER_PREFIX: Final = "user-"
MAX_TITLE_CHARS: Final = 200


class NotConfigured(UserError):
    """No SMTP server is set: the message can only be copied and sent by hand."""

    code = "smtp_not_configured"


class SendFailed(MailError):
    """The message was stored and then could not be sent; ``record`` is the stored 送信失敗 row."""

    code = "send_failed"

    def __init__(self, message: str, record: MessageView) -> None:
        super().__init__(message)
        self.record = record


@dataclass(frozen=True)
class TemplateInfo:
    id: str
    title: str
    builtin: bool
    rule: str  # the R-number of the built-in (or of the built-in a copy came from)
    based_on: str | None  # the built-in a copy came from
    version: int | None  # the operator's templates: the current version
    subject: str
    body: str
    updated_at: datetime | None = None

    @property
    def builtin_id(self) -> str | None:
        return self.id if self.builtin else self.based_on

    @property
    def label(self) -> str:
        """How the picker names it: ``[標準] …`` for a built-in, ``… (v3)`` for a copy."""
        return f"[標準] {self.title}" if self.builtin else f"{self.title}(第{self.version}版)"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "builtin": self.builtin,
            "rule": self.rule,
            "based_on": self.based_on,
            "version": self.version,
        }


@dataclass(frozen=True)
class TemplateVersionInfo:
    version: int
    title: str
    subject: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Draft:
    """A message rendered for one order, before the operator edits and sends it."""

    order_number: str
    template_id: str
    template_version: int | None
    to_name: str
    to_email: str
    subject: str
    body: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.order_number,
            "template": self.template_id,
            "template_version": self.template_version,
            "to": {"name": self.to_name, "email": self.to_email},
            "subject": self.subject,
            "body": self.body,
        }


@dataclass(frozen=True)
class SmtpStatus:
    configured: bool
    summary: str  # e.g. 'smtp.example.jp:587 (STARTTLS) shop@example.jp から送信'
    problem: str | None = None  # why sending cannot work as set (no From address …)


@dataclass(frozen=True)
class ComposeContext:
    """Everything the composer needs for one order, read once (on a worker) when it opens."""

    order_number: str
    to_name: str
    to_email: str
    variables: Mapping[str, Any]
    templates: tuple[TemplateInfo, ...]
    suggestions: tuple[Suggestion, ...]
    smtp: SmtpStatus
    situation: str | None = None
    history: tuple[MessageView, ...] = field(default=())

    def template(self, template_id: str) -> TemplateInfo:
        for info in self.templates:
            if info.id == template_id:
                return info
        raise NotFound(f"テンプレート「{template_id}」は見つかりません。")

    def render(self, template_id: str) -> Draft:
        info = self.template(template_id)
        rendered = render(info.subject, info.body, self.variables)
        return Draft(
            self.order_number, info.id, info.version, self.to_name, self.to_email, rendered.subject, rendered.body
        )


def _user_id(template_id: str) -> int | None:
    if not template_id.startswith(USER_PREFIX):
        return None
    number = template_id.removeprefix(USER_PREFIX)
    # ASCII digits only (isdigit() also takes "²", which int() refuses) and within SQLite's integer.
    if not (number.isascii() and number.isdigit()) or len(number) > 18:
        return None
    return int(number)


def _info_from_builtin(template: BuiltinTemplate) -> TemplateInfo:
    return TemplateInfo(
        id=template.id,
        title=template.title,
        builtin=True,
        rule=template.rule,
        based_on=None,
        version=None,
        subject=template.subject,
        body=template.body,
    )


def _info_from_row(row: MessageTemplate) -> TemplateInfo:
    latest = row.versions[-1]
    source = builtin(row.based_on) if row.based_on else None
    return TemplateInfo(
        id=f"{USER_PREFIX}{row.id}",
        title=latest.title,
        builtin=False,
        rule=source.rule if source else "",
        based_on=row.based_on,
        version=latest.version,
        subject=latest.subject,
        body=latest.body,
        updated_at=latest.created_at,
    )


class MessageService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: SettingsStore,
        *,
        passwords: PasswordStore | None = None,
        sender: MailSender | None = None,
        operator: Callable[[], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        # Who is at this PC (issue 14 item 3): recorded on every message; read at each write, as
        # the window may change the name while the app runs.
        self._operator: Callable[[], str] = operator or (lambda: "")
        self.passwords: PasswordStore = passwords or KeyringPasswords()
        self.sender: MailSender = sender or SmtpSender()

    # --- templates -------------------------------------------------------------------------

    @staticmethod
    def variables() -> tuple[Variable, ...]:
        return VARIABLES

    def templates(self) -> list[TemplateInfo]:
        """Built-ins first (in their order), then the operator's templates, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(MessageTemplate)
                .where(MessageTemplate.archived_at.is_(None))
                .options(selectinload(MessageTemplate.versions))
                .order_by(MessageTemplate.id)
            ).all()
            user = [_info_from_row(row) for row in rows]
        return [_info_from_builtin(t) for t in builtin_templates()] + user

    def template(self, template_id: str) -> TemplateInfo:
        template_id = template_id.strip()
        source = builtin(template_id)
        if source is not None:
            return _info_from_builtin(source)
        with self._sessions() as session:
            return _info_from_row(self._row(session, template_id))

    def _row(self, session: Session, template_id: str) -> MessageTemplate:
        number = _user_id(template_id)
        row = session.get(MessageTemplate, number) if number is not None else None
        if row is None or row.archived_at is not None:
            ids = "、".join(t.id for t in builtin_templates())
            raise NotFound(
                f"テンプレート「{template_id}」は見つかりません。`kanjo message templates` で一覧を確認してください"
                f"(標準: {ids})。"
            )
        return row

    def versions(self, template_id: str) -> list[TemplateVersionInfo]:
        with self._sessions() as session:
            row = self._row(session, template_id)
            return [TemplateVersionInfo(v.version, v.title, v.subject, v.body, v.created_at) for v in row.versions]

    def copy_template(self, template_id: str, *, title: str | None = None) -> TemplateInfo:
        """A new template of the operator's, starting from ``template_id`` (built-in or not)."""
        source = self.template(template_id)
        return self.save_template(
            None,
            title=title or f"{source.title}(コピー)",
            subject=source.subject,
            body=source.body,
            based_on=source.builtin_id,
        )

    def save_template(
        self,
        template_id: str | None,
        *,
        title: str,
        subject: str,
        body: str,
        based_on: str | None = None,
        expected_version: int | None = None,
    ) -> TemplateInfo:
        """Save a new version (or a new template when ``template_id`` is None).

        Refused, with the reason in Japanese, when the template names a variable that does not
        exist (:func:`check_template` names it), is not valid Jinja, or is refused by the sandbox.
        Built-ins cannot be changed: copy them first.

        ``expected_version`` is the version the edit started from (issue 14 item 2): when another
        operator saved a newer one meanwhile, ``StaleEdit`` names it and nothing is saved. Two
        saves of one template at once never both become the same next version: the template's
        row is locked first, and the unique (template, version) index refuses the loser anyway.
        """
        title = " ".join(title.split())
        if not title:
            raise BadInput("テンプレートの題名を入力してください。")
        if len(title) > MAX_TITLE_CHARS:
            raise BadInput(f"テンプレートの題名は{MAX_TITLE_CHARS}文字までです。")
        if template_id is not None and builtin(template_id) is not None:
            raise BadInput("標準テンプレートは変更できません。コピーしてから編集してください。")
        if based_on is not None and builtin(based_on) is None:
            raise NotFound(f"標準テンプレート「{based_on}」は見つかりません。")
        check_template(subject, body)
        now = self._clock.now()
        try:
            with self._sessions.begin() as session:
                if template_id is None:
                    row = MessageTemplate(based_on=based_on, created_at=now)
                    session.add(row)
                    session.flush()
                    next_version = 1
                else:
                    _lock_template(session, template_id)
                    row = self._row(session, template_id)
                    latest = row.versions[-1]
                    if expected_version is not None and latest.version != expected_version:
                        raise _stale_template(latest)
                    if (latest.title, latest.subject, latest.body) == (title, subject, body):
                        return _info_from_row(row)  # nothing changed: no new version
                    next_version = latest.version + 1
                row.versions.append(
                    MessageTemplateVersion(
                        version=next_version, title=title, subject=subject, body=body, created_at=now
                    )
                )
                session.flush()
                return _info_from_row(row)
        except IntegrityError as exc:  # another save took this version number first
            if template_id is None:
                raise
            with self._sessions() as session:
                raise _stale_template(self._row(session, template_id).versions[-1]) from exc

    def restore_version(self, template_id: str, version: int, *, expected_version: int | None = None) -> TemplateInfo:
        """Make an earlier version current again (as a new version: history is never rewritten)."""
        old = next((v for v in self.versions(template_id) if v.version == version), None)
        if old is None:
            raise NotFound(f"テンプレート「{template_id}」に第{version}版はありません。")
        return self.save_template(
            template_id, title=old.title, subject=old.subject, body=old.body, expected_version=expected_version
        )

    def restore_builtin(self, template_id: str, *, expected_version: int | None = None) -> TemplateInfo:
        """Put the built-in's text back into a copy of it (as a new version)."""
        info = self.template(template_id)
        source = builtin(info.based_on) if info.based_on else None
        if info.builtin or source is None:
            raise BadInput("標準テンプレートをもとにしたテンプレートではないため、標準の内容には戻せません。")
        return self.save_template(
            template_id,
            title=info.title,
            subject=source.subject,
            body=source.body,
            expected_version=expected_version,
        )

    def archive_template(self, template_id: str) -> None:
        """Remove from the list; messages already sent with it keep their text."""
        if builtin(template_id) is not None:
            raise BadInput("標準テンプレートは削除できません。")
        with self._sessions.begin() as session:
            self._row(session, template_id).archived_at = self._clock.now()

    # --- composing ---------------------------------------------------------------------------

    def compose(self, number: str, situation: str | None = None) -> ComposeContext:
        """The composer's data for one order: variables, templates, suggestions, SMTP status."""
        if situation is not None and situation not in SITUATIONS:
            raise BadInput(f"不明な状況です: {situation}")
        settings = self._settings.load()
        with self._sessions() as session:
            detail = order_detail(session, number, self._clock.now())
        templates = tuple(self.templates())
        by_id = {t.id: t for t in templates}

        def builtin_of(template_id: str) -> str | None:
            info = by_id.get(template_id)
            return info.builtin_id if info else template_id

        suggestions = []
        for suggestion in suggest(detail, settings, situation, builtin_of):
            # An operator's own copy of the suggested built-in (the newest one) is what they use.
            copies = [t for t in templates if not t.builtin and t.based_on == suggestion.template_id]
            chosen = max(copies, key=lambda t: (t.updated_at is not None, t.updated_at)) if copies else None
            suggestions.append(Suggestion(chosen.id if chosen else suggestion.template_id, suggestion.reason))
        return ComposeContext(
            order_number=detail.number,
            to_name=detail.customer_name,
            to_email=detail.customer_email,
            variables=order_variables(OrderFacts.of(detail), settings),
            templates=templates,
            suggestions=tuple(suggestions),
            smtp=self.smtp_status(settings),
            situation=situation,
            history=detail.messages,
        )

    def render(self, template_id: str, number: str) -> Draft:
        """``template_id`` filled for order ``number``; a missing setting is refused by name."""
        info = self.template(template_id)
        settings = self._settings.load()
        with self._sessions() as session:
            detail = order_detail(session, number, self._clock.now())
        rendered = render(info.subject, info.body, order_variables(OrderFacts.of(detail), settings))
        return Draft(
            detail.number,
            info.id,
            info.version,
            detail.customer_name,
            detail.customer_email,
            rendered.subject,
            rendered.body,
        )

    @staticmethod
    def render_source(subject: str, body: str, variables: Mapping[str, Any]) -> Rendered:
        """Fill unsaved template text (the editor's live preview)."""
        return render(subject, body, variables)

    # --- the messages ------------------------------------------------------------------------

    def history(self, number: str) -> list[MessageView]:
        with self._sessions() as session:
            order = load_order(session, number)
            rows = session.scalars(select(Message).where(Message.order_id == order.id).order_by(Message.id))
            return [message_view(m, order.number) for m in rows]

    def _store(
        self,
        number: str,
        *,
        template_id: str,
        template_version: int | None,
        subject: str,
        body: str,
        status: MessageStatus,
        channel: str,
    ) -> tuple[int, str, str]:
        subject = " ".join(subject.splitlines()).strip()
        if not subject:
            raise BadInput("件名を入力してください。")
        if not body.strip():
            raise BadInput("本文を入力してください。")
        now = self._clock.now()
        with self._sessions.begin() as session:
            order = load_order(session, number)
            row = Message(
                order_id=order.id,
                template_id=template_id,
                template_version=template_version,
                recipient=order.customer.email,
                subject=subject,
                body=body,
                status=status.value,
                channel=channel,
                created_at=now,
                updated_at=now,
                operator=self._operator(),
            )
            session.add(row)
            session.flush()
            return row.id, order.number, order.customer.name

    def _finish(
        self, message_id: int, status: MessageStatus, *, error: str | None = None, smtp_id: str | None = None
    ) -> MessageView:
        now = self._clock.now()
        with self._sessions.begin() as session:
            row = session.get(Message, message_id)
            assert row is not None
            row.status = status.value
            row.error = error
            row.updated_at = now
            if status is MessageStatus.SENT:
                row.sent_at = now
                row.smtp_message_id = smtp_id
            return message_view(row, _order_number(session, row))

    def record_manual(
        self, number: str, *, template_id: str, template_version: int | None, subject: str, body: str
    ) -> MessageView:
        """The operator copied the message to send it themselves: keep it as 手動送信."""
        message_id, _number, _name = self._store(
            number,
            template_id=template_id,
            template_version=template_version,
            subject=subject,
            body=body,
            status=MessageStatus.MANUAL,
            channel="manual",
        )
        with self._sessions() as session:
            row = session.get(Message, message_id)
            assert row is not None
            return message_view(row, _order_number(session, row))

    def send(
        self, number: str, *, template_id: str, template_version: int | None, subject: str, body: str
    ) -> MessageView:
        """Send by SMTP: stored first (下書き), then 送信済, or 送信失敗 with the reason.

        Raises:
            NotConfigured: no SMTP server is set (nothing stored; copy and send by hand).
            BadInput: the From address or the customer's address cannot be used (nothing stored).
            SendFailed: stored, then the server could not be reached or refused it; the stored
                row keeps the text and the reason.
        """
        settings = self._settings.load()
        config = smtp_config(settings)
        if config is None:
            raise NotConfigured(
                "SMTPサーバーが設定されていないため送信できません。文面をコピーしてお使いのメールソフトから送り、"
                "手動送信として記録してください(設定: `kanjo settings set smtp_host サーバー名`)。"
            )
        with self._sessions() as session:
            order = load_order(session, number)
            to_name, to_email = order.customer.name, order.customer.email
        # Built before storing, so an unusable address is refused with nothing recorded.
        email = build_email(
            config, to_name=to_name, to_email=to_email, subject=subject, body=body, now=self._clock.now()
        )
        message_id, order_number, _name = self._store(
            number,
            template_id=template_id,
            template_version=template_version,
            subject=subject,
            body=body,
            status=MessageStatus.DRAFT,
            channel="smtp",
        )
        try:
            self.sender.send(config, self._password(config), email)
        except UserError as exc:
            record = self._finish(message_id, MessageStatus.FAILED, error=exc.message)
            raise SendFailed(
                f"送信できませんでした: {exc.message} 文面は受注 {order_number} の履歴に「送信失敗」として残っています。",
                record,
            ) from None
        except Exception:
            self._finish(message_id, MessageStatus.FAILED, error="予期しないエラーで送信できませんでした。")
            raise
        return self._finish(message_id, MessageStatus.SENT, smtp_id=email["Message-ID"])

    # --- SMTP settings -----------------------------------------------------------------------

    def smtp_status(self, settings: AppSettings | None = None) -> SmtpStatus:
        settings = settings or self._settings.load()
        try:
            config = smtp_config(settings)
        except UserError as exc:
            return SmtpStatus(True, settings.smtp_host, exc.message)
        if config is None:
            return SmtpStatus(False, "SMTPサーバーは未設定です(コピーして手動で送信します)。")
        summary = f"{config.host}:{config.port}({SECURITY_LABELS[config.security]}) {config.sender} から送信"
        return SmtpStatus(True, summary)

    def settings_snapshot(self) -> AppSettings:
        return self._settings.load()

    def save_smtp_settings(
        self, *, host: str, port: int, user: str, security: str, sender: str, password: str | None = None
    ) -> SmtpStatus:
        """Save the SMTP settings (the window's 送信設定); a typed password goes to the keyring only.

        The settings are checked like ``kanjo settings set`` checks them. When a password was
        typed but no keyring exists, the settings are saved and the refusal says so.
        """
        values = {
            "smtp_host": coerce("smtp_host", host),
            "smtp_port": coerce("smtp_port", str(port)),
            "smtp_user": coerce("smtp_user", user),
            "smtp_security": coerce("smtp_security", security),
            "smtp_from": coerce("smtp_from", sender),
        }
        if values["smtp_host"] and "@" not in (values["smtp_from"] or values["smtp_user"]):
            raise BadInput("送信元のメールアドレスを入力してください(ユーザー名がメールアドレスでない場合)。")
        settings = self._settings.save(**values)
        if password:
            self.set_smtp_password(password)
        return self.smtp_status(settings)

    def _config(self) -> SmtpConfig:
        config = smtp_config(self._settings.load())
        if config is None or not config.user:
            raise BadInput(
                "SMTPのサーバーとユーザー名を先に設定してください(`kanjo settings set smtp_host …`、"
                "`kanjo settings set smtp_user …`)。"
            )
        return config

    def _password(self, config: SmtpConfig) -> str | None:
        if not config.user:
            return None
        password = self.passwords.get(config.account)
        if not password:
            raise MailError(
                f"SMTPユーザー {config.user} のパスワードが保存されていません。送信設定で保存してください"
                "(`kanjo message password`)。"
            )
        return password

    def set_smtp_password(self, password: str) -> None:
        """Keep the SMTP password in the OS keyring (never in the database)."""
        if not password:
            raise BadInput("パスワードを入力してください。")
        if not password.isascii() or not password.isprintable():
            # smtplib sends credentials as ASCII; a full-width character is usually an IME slip.
            raise BadInput("パスワードに全角文字や使えない文字が含まれています。半角の英数字・記号で入力してください。")
        self.passwords.set(self._config().account, password)

    def delete_smtp_password(self) -> None:
        self.passwords.delete(self._config().account)

    def has_smtp_password(self) -> bool:
        return bool(self.passwords.get(self._config().account))


def _lock_template(session: Session, template_id: str) -> None:
    """Hold the template's row for the rest of the transaction, before anything is read (like
    core.db.locks.lock_order): on SQLite a write takes the database's write lock at once (a read
    first would be a snapshot the lock does not refresh); on PostgreSQL ``SELECT … FOR UPDATE``."""
    number = _user_id(template_id)
    if number is None:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.id == number)
            .values(based_on=MessageTemplate.based_on)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(MessageTemplate.id).where(MessageTemplate.id == number).with_for_update())


def _stale_template(latest: MessageTemplateVersion) -> StaleEdit:
    return StaleEdit(
        f"第{latest.version}版「{latest.title}」({format_jst(latest.created_at)} 保存)。",
        current_values={
            "version": latest.version,
            "title": latest.title,
            "subject": latest.subject,
            "body": latest.body,
        },
    )


def _order_number(session: Session, row: Message) -> str:
    number = session.scalar(select(Order.number).where(Order.id == row.order_id))
    assert number is not None
    return number


__all__: Sequence[str] = [
    "ComposeContext",
    "Draft",
    "MessageService",
    "NotConfigured",
    "SendFailed",
    "SmtpStatus",
    "TemplateInfo",
    "TemplateVersionInfo",
]
