"""Messages (issue 5, R41–R51): built-in templates filled from real orders, strict and sandboxed
templates, the operator's versioned templates, suggestions, and messages kept with their order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from core.amazonpay.errors import R41_CHANGE_METHOD_MESSAGE
from core.app import Kanjo
from core.clock import FixedClock
from core.db.schema import Message, Order
from core.domain import AMAZON_PAY_KINDS, OrderKind
from core.errors import BadInput, NotFound
from core.messages.builtin import builtin, builtin_templates, parse_template_file
from core.messages.mail import MailError, SmtpConfig
from core.messages.rendering import TemplateRefused, check_template, render
from core.messages.variables import VARIABLE_NAMES, sample_variables
from core.services.messages import NotConfigured, SendFailed
from core.services.orders import LineItem

ORDERED_AT = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 2026-11-21 00:30 in Tokyo: the date is JST's
ITEMS = (("手ぬぐい 藍染", 1_200, 2), ("風呂敷 二巾", 2_500, 1))  # items subtotal ¥4,900
SHIPPING = 600
TOTAL = 5_500
SETTINGS = {
    "shop_name": "藍染の店 かんじょう",
    "shop_domain": "shop.example.jp",
    "seller_token": "A2KANJOTOKEN",
    "operator_name": "山本",
}
BUILTIN_IDS = {
    "thanks",
    "shipping",
    "payment-history",
    "payment-amazon",
    "payment-method-change",
    "cancel-reply",
    "return-steps",
    "supplier-apology",
    "full-refund",  # issue 15: R48's switch to a full refund
}


def place(
    app: Kanjo,
    number: str,
    kind: OrderKind = OrderKind.NORMAL,
    *,
    member: bool = True,
    items: Sequence[tuple[str, int, int]] = ITEMS,
    shipping: int = SHIPPING,
    tracking: str | None = "4455-6677-8899",
    ordered_at: datetime = ORDERED_AT,
) -> None:
    control = app.gateway().control
    assert control is not None
    total = sum(price * quantity for _name, price, quantity in items) + shipping
    placed = control.checkout(number=number, total=total, kind=kind.value, ordered_at=ordered_at)
    app.orders.receive_checkout(
        number=number,
        kind=kind,
        charge_permission_id=placed["chargePermissionId"],
        charge_id=placed["chargeId"],
        items=[LineItem(name, price, quantity, price // 2) for name, price, quantity in items],
        shipping_fee=shipping,
        ordered_at=ordered_at,
        member=member,
    )
    if tracking is not None:
        with app.sessions.begin() as session:
            order = session.scalar(select(Order).where(Order.number == number))
            assert order is not None
            order.tracking_number = tracking


@pytest.fixture
def shop(app: Kanjo) -> Kanjo:
    app.settings.save(**SETTINGS)
    return app


# --- built-in templates for every order kind -------------------------------------------------


def test_the_built_ins_are_the_issue_s_list_each_with_subject_and_body() -> None:
    templates = builtin_templates()
    assert {t.id for t in templates} == BUILTIN_IDS
    for template in templates:
        assert template.title and template.subject.strip() and template.body.strip()
        assert template.rule in {"R24", "R41", "R43", "R45", "R46", "R48", "R50"}
        check_template(template.subject, template.body)  # each would be accepted if saved


@pytest.mark.parametrize("kind", AMAZON_PAY_KINDS)  # placed through the sandbox checkout
@pytest.mark.parametrize("template_id", sorted(BUILTIN_IDS))
def test_every_built_in_renders_for_every_order_kind_with_the_order_s_values(
    shop: Kanjo, kind: OrderKind, template_id: str
) -> None:
    place(shop, "K-100", kind)
    draft = shop.messages.render(template_id, "K-100")
    text = draft.subject + "\n" + draft.body
    assert draft.to_email and draft.order_number == "K-100" and draft.template_id == template_id
    assert "K-100" in text
    assert draft.body.startswith(f"{draft.to_name} 様\n")  # R51: the customer's name, with 様
    assert "藍染の店 かんじょう" in text
    assert "{{" not in text and "}}" not in text and "None" not in text
    assert draft.body.endswith("\n") and not draft.body.endswith("\n\n")
    amazon = (
        "https://pay.amazon.com/jp/jr/your-account/ba"
        if kind is OrderKind.SUBSCRIPTION
        else "https://payments.amazon.co.jp/jr/your-account/orders/"
    )
    if template_id == "thanks":
        assert "2026年11月21日" in text  # the order date in Japan time (UTC is still the 20th)
        assert "・手ぬぐい 藍染 × 2  ¥2,400" in text and "・風呂敷 二巾 × 1  ¥2,500" in text
        assert "商品合計: ¥4,900" in text and "送料: ¥600" in text and "お支払い金額: ¥5,500" in text
    elif template_id == "shipping":
        assert "送り状番号: 4455-6677-8899" in text  # R24 step 5
    elif template_id == "payment-history":
        assert "https://shop.example.jp/my/orders/K-100" in text  # R43 (1)
        assert "payments.amazon" not in text and "pay.amazon.com" not in text
    elif template_id in ("payment-amazon", "payment-method-change"):
        assert amazon in text  # R43 (2): chosen by the order's kind
        other = {
            "https://pay.amazon.com/jp/jr/your-account/ba",
            "https://payments.amazon.co.jp/jr/your-account/orders/",
        }
        assert not any(url in text for url in other - {amazon})
        assert "¥5,500" in text and "2026年11月21日" in text  # date, number and amount to find it (R43)
    elif template_id == "cancel-reply":
        assert "https://www.amazon.co.jp/sp?_encoding=UTF8&seller=A2KANJOTOKEN" in text  # R44
        assert "24時間" in text and "50%" in text
        assert "¥2,450" in text  # R45: half the item price (¥4,900), shipping is the customer's
    elif template_id == "return-steps":
        assert "注文履歴" in text and "¥2,450" in text  # R46
    elif template_id == "supplier-apology":
        assert "手ぬぐい 藍染、風呂敷 二巾" in text
        assert "¥5,500" in text and ("全額" in text or "取り消し" in text)
        assert draft.body.rstrip().endswith("藍染の店 かんじょう\n山本")  # R50: signed by the operator


def test_the_full_refund_apology_follows_the_capture(shop: Kanjo) -> None:
    place(shop, "K-200")
    before = shop.messages.render("supplier-apology", "K-200").body
    assert "ご請求予定の¥5,500はすべて取り消し" in before  # not charged yet: nothing to refund
    assert shop.payments.capture("K-200").ok
    shop.payments.refund("K-200", 1_000, "一部返金")
    after = shop.messages.render("supplier-apology", "K-200").body
    assert "お支払いいただいた¥4,500を全額ご返金" in after  # captured less what was already refunded


def test_half_refund_rounds_down_to_whole_yen(shop: Kanjo) -> None:
    place(shop, "K-300", items=(("豆皿", 999, 1),), shipping=500)
    assert "(¥499)" in shop.messages.render("cancel-reply", "K-300").body  # R45: 50% of ¥999


@pytest.mark.parametrize(
    ("setting", "template_id", "label"),
    [
        ("seller_token", "cancel-reply", "出品者トークン"),
        ("shop_domain", "payment-history", "ショップのドメイン"),
        ("operator_name", "supplier-apology", "担当者名"),
        ("shop_name", "thanks", "ショップ名"),
    ],
)
def test_a_missing_setting_is_refused_by_name_not_rendered_as_a_broken_url(
    shop: Kanjo, setting: str, template_id: str, label: str
) -> None:
    place(shop, "M-1")
    if setting == "operator_name":  # kept per PC and never blank (issue 14 item 3): a PC without one yet
        assert shop.settings.local is not None
        shop.settings.local.path.unlink()
    else:
        shop.settings.save(**{setting: ""})
    with pytest.raises(TemplateRefused) as refused:
        shop.messages.render(template_id, "M-1")
    assert label in refused.value.message and setting in refused.value.message
    assert "kanjo settings set" in refused.value.message


def test_order_history_url_is_refused_for_a_guest_and_a_missing_tracking_number_is_named(shop: Kanjo) -> None:
    place(shop, "G-1", member=False, tracking=None)
    with pytest.raises(TemplateRefused, match="ゲスト"):
        shop.messages.render("payment-history", "G-1")  # R43 (1) needs the member's page
    assert "payments.amazon.co.jp" in shop.messages.render("payment-amazon", "G-1").body
    with pytest.raises(TemplateRefused, match="送り状番号"):
        shop.messages.render("shipping", "G-1")


def test_unknown_template_or_order_is_a_clear_message(shop: Kanjo) -> None:
    place(shop, "U-1")
    with pytest.raises(NotFound, match="nope"):
        shop.messages.render("nope", "U-1")
    with pytest.raises(NotFound, match="U-404"):
        shop.messages.render("thanks", "U-404")


def test_template_file_format() -> None:
    parsed = parse_template_file("title: 題\nrule: R1\norder: 3\nsubject: 件名 {{ order_number }}\n---\n本文\n", "x")
    assert (parsed.title, parsed.rule, parsed.order, parsed.subject, parsed.body) == (
        "題",
        "R1",
        3,
        "件名 {{ order_number }}",
        "本文\n",
    )
    with pytest.raises(ValueError):
        parse_template_file("title: 題\n本文", "x")


# --- strict templates and the sandbox -----------------------------------------------------------


def test_an_unknown_variable_is_refused_when_saved_naming_it(shop: Kanjo) -> None:
    count = len(shop.messages.templates())
    with pytest.raises(TemplateRefused) as refused:
        shop.messages.save_template(
            None, title="お礼", subject="{{ order_numbr }} のお礼", body="{{ customer_nmae }}\n{{ total }}"
        )
    assert "order_numbr" in refused.value.message and "customer_nmae" in refused.value.message
    assert refused.value.code == "unknown_variable"
    assert len(shop.messages.templates()) == count  # nothing saved


def test_a_misspelt_item_field_and_bad_syntax_are_refused_when_saved(shop: Kanjo) -> None:
    with pytest.raises(TemplateRefused, match="nmae"):
        shop.messages.save_template(
            None, title="t", subject="s", body="{% for item in items %}{{ item.nmae }}{% endfor %}"
        )
    with pytest.raises(TemplateRefused, match="本文の2行目"):
        shop.messages.save_template(None, title="t", subject="s", body="一行目\n{% if charged %}閉じていない")
    with pytest.raises(TemplateRefused, match="件名"):
        shop.messages.save_template(None, title="t", subject="  ", body="本文")


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ customer_name.__class__ }}",
    "{{ items.__class__.__base__ }}",
    "{{ items[0].__dict__ }}",
    "{{ charged.__class__.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__globals__ }}",
    "{{ range.__call__.__self__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ dict(a=1) }}",
    "{{ config }}",
    "{{ request.application.__globals__ }}",
    "{{ '{0.__class__.__mro__}'.format(customer_name) }}",
    "{{ '{x.__class__}'.format_map({'x': customer_name}) }}",
    "{{ customer_name|attr('__class__') }}",
    "{{ (customer_name|attr('__class__')).__mro__ }}",
    "{{ customer_name.join.__self__ }}",
    "{% set l = [1] %}{{ l.append(2) }}",
    "{% set d = {} %}{{ d.update({'a': 1}) }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% from 'os' import system %}",
    "{% extends '/etc/passwd' %}",
    "{{ customer_name * 1000000 }}",
    "{{ 10 ** 1000000 }}",
    "{% for i in range(100000) %}{% endfor %}",
    "{% for i in range(5000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_known_sandbox_escapes_are_refused_when_saved(shop: Kanjo, source: str) -> None:
    count = len(shop.messages.templates())
    with pytest.raises(TemplateRefused) as refused:
        shop.messages.save_template(None, title="攻撃", subject="件名", body=f"{{{{ customer_name }}}}\n{source}")
    assert not refused.value.message.isascii()  # one Japanese sentence
    assert len(shop.messages.templates()) == count


@pytest.mark.parametrize("source", ESCAPES)
def test_known_sandbox_escapes_are_refused_when_rendered_too(source: str) -> None:
    with pytest.raises(TemplateRefused):
        render("件名", source, sample_variables())


def test_ordinary_template_logic_still_works() -> None:
    body = (
        "{% for item in items %}{{ loop.index }}. {{ item.name }} {{ item.unit_price }}×{{ item.quantity }}\n{% endfor %}"
        "{{ '{}へ'.format(customer_name) }} {{ customer_name_plain|length }} {{ order_kind|replace('商品', '') }}"
        "{% for i in range(3) %}{{ i }}{% endfor %}{% if charged %}確定{% endif %}"
    )
    rendered = render("{{ order_number }}\nの件", body, sample_variables())
    assert rendered.subject == "SAMPLE-0001 の件"  # one line, always
    assert "1. サンプル商品 ¥2,400×2" in rendered.body and "2. ギフト包装" in rendered.body
    assert "山田 花子 様へ 5 通常012確定" in rendered.body


def test_every_variable_is_documented_and_filled() -> None:
    assert set(sample_variables()) == VARIABLE_NAMES


# --- the operator's templates: copies, versions, restoring --------------------------------------


def test_copy_edit_version_and_restore(shop: Kanjo, clock: FixedClock) -> None:
    place(shop, "V-1")
    original = builtin("cancel-reply")
    assert original is not None
    copy = shop.messages.copy_template("cancel-reply")
    assert copy.id.startswith("user-") and copy.version == 1 and copy.based_on == "cancel-reply"
    assert (copy.subject, copy.body) == (original.subject, original.body) and copy.rule == "R45"

    clock.advance(timedelta(minutes=5))
    edited = shop.messages.save_template(
        copy.id,
        title="キャンセル返信(当店版)",
        subject=copy.subject,
        body=copy.body.replace("ご連絡ありがとうございます。", "いつもありがとうございます。"),
    )
    assert edited.version == 2 and edited.title == "キャンセル返信(当店版)"
    assert (
        shop.messages.save_template(copy.id, title=edited.title, subject=edited.subject, body=edited.body).version == 2
    )
    assert "いつもありがとうございます。" in shop.messages.render(copy.id, "V-1").body
    draft = shop.messages.render(copy.id, "V-1")
    assert draft.template_version == 2

    restored = shop.messages.restore_version(copy.id, 1)
    assert restored.version == 3 and restored.body == original.body and restored.title == copy.title
    shop.messages.save_template(copy.id, title="t", subject="s", body="{{ customer_name }}")
    back = shop.messages.restore_builtin(copy.id)
    assert (back.subject, back.body) == (original.subject, original.body)  # the built-in stays restorable
    assert [v.version for v in shop.messages.versions(copy.id)] == [1, 2, 3, 4, 5]
    assert builtin("cancel-reply") == original

    with pytest.raises(BadInput, match="標準テンプレートは変更できません"):
        shop.messages.save_template("cancel-reply", title="x", subject="s", body="b")
    with pytest.raises(BadInput):
        shop.messages.restore_builtin("cancel-reply")
    shop.messages.archive_template(copy.id)
    assert copy.id not in {t.id for t in shop.messages.templates()}
    with pytest.raises(NotFound):
        shop.messages.render(copy.id, "V-1")


def test_templates_list_built_ins_first_then_the_operator_s(shop: Kanjo) -> None:
    mine = shop.messages.save_template(
        None, title="自由文", subject="{{ shop_name }}より", body="{{ customer_name }}\n"
    )
    templates = shop.messages.templates()
    assert [t.id for t in templates[: len(BUILTIN_IDS)]] == [t.id for t in builtin_templates()]
    assert templates[-1] == mine and mine.based_on is None and mine.label == "自由文(第1版)"
    assert templates[0].label.startswith("[標準] ")


# --- suggestions --------------------------------------------------------------------------------


def test_a_failed_reauthorization_suggests_the_matching_guidance(shop: Kanjo, clock: FixedClock) -> None:
    place(shop, "S-1", ordered_at=clock.now() - timedelta(days=40), member=False)
    control = shop.gateway().control
    assert control is not None
    control.decline_next("S-1", "hard")
    shop.payments.reauthorize("S-1")
    assert shop.orders.detail("S-1").reauth_message == R41_CHANGE_METHOD_MESSAGE
    ids = [s.template_id for s in shop.messages.compose("S-1").suggestions]
    assert ids[0] == "payment-method-change"  # R41: change the payment method
    assert ids[1] == "payment-amazon"  # a guest: Amazon Pay's page (R43 (2))
    shop.payments.reauthorize("S-1")  # now the buyer's payment settings (R41 second message)
    context = shop.messages.compose("S-1")
    assert context.suggestions[0].template_id == "payment-amazon"
    assert "R43" in context.suggestions[0].reason


def test_a_member_s_failed_payment_suggests_the_order_history_page(shop: Kanjo, clock: FixedClock) -> None:
    place(shop, "S-2", OrderKind.SUBSCRIPTION, ordered_at=clock.now() - timedelta(days=40))
    control = shop.gateway().control
    assert control is not None
    control.decline_next("S-2", "soft")
    shop.payments.reauthorize("S-2")
    ids = [s.template_id for s in shop.messages.compose("S-2").suggestions]
    assert ids[:2] == ["payment-history", "payment-amazon"]
    shop.settings.save(shop_domain="")
    assert shop.messages.compose("S-2").suggestions[0].template_id == "payment-amazon"


def test_cancellation_request_suggests_r45_then_r46_and_prefers_the_operator_s_copy(shop: Kanjo) -> None:
    place(shop, "S-3")
    context = shop.messages.compose("S-3", "cancel_request")
    assert context.suggestions[0].template_id == "cancel-reply"
    draft = context.render("cancel-reply")
    shop.messages.record_manual(
        "S-3", template_id=draft.template_id, template_version=None, subject=draft.subject, body=draft.body
    )
    assert shop.messages.compose("S-3", "cancel_request").suggestions[0].template_id == "return-steps"
    copy = shop.messages.copy_template("return-steps")
    assert shop.messages.compose("S-3", "cancel_request").suggestions[0].template_id == copy.id
    with pytest.raises(BadInput):
        shop.messages.compose("S-3", "whatever")


def test_a_new_order_suggests_the_thank_you_mail_until_one_was_sent(shop: Kanjo) -> None:
    place(shop, "S-4", tracking=None)
    assert shop.messages.compose("S-4").suggestions[0].template_id == "thanks"
    draft = shop.messages.render("thanks", "S-4")
    shop.messages.record_manual(
        "S-4", template_id="thanks", template_version=None, subject=draft.subject, body=draft.body
    )
    assert "thanks" not in [s.template_id for s in shop.messages.compose("S-4").suggestions]


# --- the message store --------------------------------------------------------------------------


class ScriptedSender:
    """Checks that the message is stored as 下書き before it is handed over, then answers as told."""

    def __init__(self, app: Kanjo, fail: str | None = None) -> None:
        self.app = app
        self.fail = fail
        self.sent: list[EmailMessage] = []

    def send(self, config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
        with self.app.sessions() as session:
            statuses = [m.status for m in session.scalars(select(Message).order_by(Message.id))]
        assert statuses[-1] == "draft"  # stored before it is sent
        if self.fail:
            raise MailError(self.fail)
        self.sent.append(message)


def test_manual_send_without_smtp_is_kept_with_the_order(shop: Kanjo, clock: FixedClock) -> None:
    place(shop, "H-1")
    draft = shop.messages.render("thanks", "H-1")
    with pytest.raises(NotConfigured, match="手動送信"):
        shop.messages.send("H-1", template_id="thanks", template_version=None, subject=draft.subject, body=draft.body)
    assert shop.messages.history("H-1") == []  # nothing stored for a send that could not start
    record = shop.messages.record_manual(
        "H-1", template_id="thanks", template_version=None, subject=draft.subject, body=draft.body + "追伸\n"
    )
    assert (record.status, record.status_label, record.channel) == ("manual", "手動送信", "manual")
    assert record.created_at == clock.now() and record.created_at.tzinfo is not None
    detail = shop.orders.detail("H-1")
    assert detail.messages == (record,)
    data = detail.to_json()["messages"][0]
    assert data["status_label"] == "手動送信" and data["body"].endswith("追伸\n")
    assert data["created_at"] == clock.now().isoformat()


def test_send_stores_first_then_marks_sent_or_failed_keeping_the_text(shop: Kanjo, clock: FixedClock) -> None:
    place(shop, "H-2")
    shop.settings.save(smtp_host="smtp.example.jp", smtp_user="", smtp_from="shop@example.jp")
    draft = shop.messages.render("thanks", "H-2")
    fields = {"template_id": "thanks", "template_version": None, "subject": draft.subject, "body": draft.body}
    shop.messages.sender = ScriptedSender(shop, fail="SMTPサーバーが混み合っています。")
    with pytest.raises(SendFailed) as failed:
        shop.messages.send("H-2", **fields)  # type: ignore[arg-type]
    assert "SMTPサーバーが混み合っています。" in failed.value.message and "送信失敗" in failed.value.message
    assert failed.value.record.status_label == "送信失敗" and failed.value.record.body == draft.body
    clock.advance(timedelta(minutes=1))
    sender = ScriptedSender(shop)
    shop.messages.sender = sender
    sent = shop.messages.send("H-2", **fields)  # type: ignore[arg-type]
    assert sent.status_label == "送信済" and sent.sent_at == clock.now()
    history = shop.messages.history("H-2")
    assert [(m.status, m.error) for m in history] == [("failed", "SMTPサーバーが混み合っています。"), ("sent", None)]
    assert sender.sent[0]["To"].addresses[0].addr_spec == history[1].recipient


def test_send_refuses_an_unusable_from_address_before_storing(shop: Kanjo) -> None:
    place(shop, "H-3")
    shop.settings.save(smtp_host="smtp.example.jp", smtp_user="login-name", smtp_from="")
    status = shop.messages.smtp_status()
    assert status.configured and status.problem and "smtp_from" in status.problem
    with pytest.raises(BadInput, match="smtp_from"):
        shop.messages.send("H-3", template_id="thanks", template_version=None, subject="s", body="b")
    assert shop.messages.history("H-3") == []


def test_empty_text_is_refused(shop: Kanjo) -> None:
    place(shop, "H-4")
    with pytest.raises(BadInput, match="本文"):
        shop.messages.record_manual("H-4", template_id="thanks", template_version=None, subject="件名", body="  \n")


def test_a_seller_token_stored_before_it_was_checked_never_reaches_a_customer_link(shop: Kanjo) -> None:
    """Issue 10 item 8: a store from an older version may hold `X&seller=evil#`."""
    place(shop, "M-2")
    shop.settings.set_raw("seller_token", "X&seller=evil#")
    with pytest.raises(TemplateRefused) as refused:
        shop.messages.render("cancel-reply", "M-2")
    assert "seller_token" in refused.value.message and "evil" not in refused.value.message
