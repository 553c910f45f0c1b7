"""What residents read. Short sentences, one action per message: many readers are elderly."""

from __future__ import annotations

from datetime import date, datetime

from texts import Rich, t
from texts.common import status_name


def welcome(station_name: str) -> Rich:
    return t(
        "您好！这里是<b>{station}</b>的意见建议受理助手。\n\n"
        "有什么意见、建议或者困难，<b>直接打字发给我</b>就行（5 到 2000 字）。"
        "我们会登记编号、分类，交给人大代表或相关部门办理，每一步都会告诉您。\n\n"
        "也可以发照片、语音、文件或位置作为补充。\n"
        "查看我提交的意见：/my\n"
        "查询某一条：/status 受理编号\n"
        "帮助：/help",
        station=station_name,
    )


def help_text() -> Rich:
    return t(
        "<b>怎么用</b>\n"
        "• 直接发送文字，就是提交一条意见建议（5 到 2000 字）。\n"
        "• 发照片、语音、文件或位置，会补充到您最近一条未办结的意见里。\n"
        "• /my 查看我提交的意见和办理进度\n"
        "• /status LL-2026-00001 查询某一条\n"
        "• /start 重新查看说明"
    )


def station_unknown(code: str) -> Rich:
    return t(
        "没有找到代码为 {code} 的联络站，已为您使用默认联络站。如有疑问请联系工作人员。", code=code
    )


def bound_to_station(station_name: str) -> Rich:
    return t("已为您绑定<b>{name}</b>。", name=station_name)


def receipt(
    ref_no: str, theme_label: str, anonymous: bool, *, duplicate_delivery: bool = False
) -> Rich:
    """The receipt. `duplicate_delivery`: the same receipt sent again (the message reached us
    twice, or a restart could not tell whether it had gone out): nothing the resident did, so
    it reads as the receipt itself, with one calm line that two of them mean one opinion."""
    visibility = "匿名（承办人看不到您的姓名）" if anonymous else "实名（承办人可以看到您的姓名）"
    again = (
        "\n\n如果您收到两条这样的回执，说的是同一条意见，不用再发。" if duplicate_delivery else ""
    )
    return t(
        "✅ 您的意见已收到，已登记：\n受理编号：<code>{ref}</code>\n分类：{theme}\n身份：{vis}\n\n"
        "我们会尽快处理，每一步都会通知您。可用下面的按钮补充说明、选择是否匿名，或在交办前撤回。"
        "{again}",
        ref=ref_no,
        theme=theme_label,
        vis=visibility,
        again=again,
    )


def too_short(min_chars: int) -> Rich:
    return t(
        "内容有点短，请把问题说得具体一些（至少 {n} 个字），比如在哪里、什么事、希望怎么解决。",
        n=min_chars,
    )


def too_long(length: int, max_chars: int) -> Rich:
    return t(
        "内容有 {length} 字，超过了单条 {max} 字的上限，这条没有登记。"
        "请精简后再发，或者分成几条发送（第二条起可点“补充说明”接在第一条后面）。",
        length=length,
        max=max_chars,
    )


def no_text_only_emoji() -> Rich:
    return t("我只看到了表情或符号。请用文字写下您的意见建议，例如：哪里、什么问题、希望怎么解决。")


def rate_limited(limit: int) -> Rich:
    return t("您一小时内已提交 {n} 条意见，先歇一歇吧。请稍后再发，已提交的意见都已保存。", n=limit)


def sticker_reply() -> Rich:
    return t("收到您的表情啦 😊 如需提交意见，请直接用文字写给我。")


def unknown_command() -> Rich:
    return t("没有这个命令。直接发文字就是提交意见；/my 查看我的意见；/help 查看帮助。")


def ask_detail(ref_no: str) -> Rich:
    return t("请发送对 <code>{ref}</code> 的补充说明（文字、照片、语音或文件都可以）。", ref=ref_no)


def detail_added(ref_no: str, kind_label: str) -> Rich:
    return t("收到，{kind}已添加到 <code>{ref}</code>。", kind=kind_label, ref=ref_no)


def attachment_needs_text(kind_label: str) -> Rich:
    return t(
        "收到{kind}。请先用文字说明您的意见（在哪里、什么问题），再发{kind}作为补充。",
        kind=kind_label,
    )


def anonymity_set(ref_no: str, anonymous: bool) -> Rich:
    if anonymous:
        return t("<code>{ref}</code> 已设为匿名：承办的代表和部门看不到您的姓名。", ref=ref_no)
    return t(
        "<code>{ref}</code> 已设为实名：承办的代表和部门可以看到您的姓名，便于联系您。", ref=ref_no
    )


def withdrawn(ref_no: str) -> Rich:
    return t("<code>{ref}</code> 已撤回。如需再次反映，直接发送文字即可。", ref=ref_no)


def cannot_withdraw(ref_no: str, status: str) -> Rich:
    return t(
        "<code>{ref}</code> 当前状态为“{status}”，已交办后不能撤回。",
        ref=ref_no,
        status=status_name(status),
    )


def edit_recorded(ref_no: str) -> Rich:
    return t("已记录您对 <code>{ref}</code> 的修改，工作人员会看到修改前后的内容。", ref=ref_no)


def edit_too_late(ref_no: str) -> Rich:
    return t("<code>{ref}</code> 已在办理中，修改内容请用“补充说明”发送。", ref=ref_no)


def my_list_empty() -> Rich:
    return t("您还没有提交过意见。直接发送文字就可以提交。")


def my_list_header(total: int, page: int, pages: int) -> Rich:
    return t(
        "<b>我的意见</b>（共 {total} 条，第 {page}/{pages} 页，最新的在前）",
        total=total,
        page=page,
        pages=pages,
    )


def my_list_item(ref_no: str, status: str, created: datetime, text: str) -> Rich:
    snippet = text if len(text) <= 40 else text[:40] + "…"
    return t(
        "<code>{ref}</code> · {status} · {created:%m-%d}\n{snippet}",
        ref=ref_no,
        status=status_name(status),
        created=created,
        snippet=snippet,
    )


def status_usage() -> Rich:
    return t("请在命令后写上受理编号，例如：/status LL-2026-00001")


def status_not_found(raw: str) -> Rich:
    return t("没有找到您提交的编号为 {raw} 的意见，请核对编号。可发送 /my 查看全部。", raw=raw)


def status_detail(
    ref_no: str, status: str, theme_label: str, created: datetime, text: str, anonymous: bool
) -> Rich:
    return t(
        "受理编号：<code>{ref}</code>\n状态：<b>{status}</b>\n分类：{theme}\n"
        "提交时间：{created:%Y-%m-%d %H:%M}\n身份：{who}\n\n{text}",
        ref=ref_no,
        status=status_name(status),
        theme=theme_label,
        created=created,
        who="匿名" if anonymous else "实名",
        text=text,
    )


def group_hint() -> Rich:
    return t("请私聊我提交意见建议，群里的消息我不会登记。")


def kind_label(kind: str) -> str:
    return {
        "photo": "照片",
        "document": "文件",
        "voice": "语音",
        "audio": "音频",
        "video": "视频",
        "location": "位置",
        "link": "链接",
        "text": "补充说明",
    }.get(kind, "附件")


BTN_DETAIL = "📝 补充说明"
BTN_ANON = "🙈 改为匿名"
BTN_REAL = "🙋 改为实名"
BTN_WITHDRAW = "↩️ 撤回"
BTN_PREV = "« 上一页"
BTN_NEXT = "下一页 »"


def unsupported_message() -> Rich:
    return t("暂时不支持这种消息。请用文字写下您的意见，也可以发照片、语音、文件或位置作为补充。")


RATING_LABELS = {
    "satisfied": "😊 满意",
    "basic": "🙂 基本满意",
    "unsatisfied": "😞 不满意",
    "unrated": "未评价",
}


def assigned(ref_no: str, assignee: str, due: date | None = None) -> Rich:
    text = t("📤 您的意见 <code>{ref}</code> 已交办给<b>{who}</b>办理。", ref=ref_no, who=assignee)
    if due is None:
        return text
    return text + t("\n预计 <b>{due:%Y年%-m月%-d日}</b> 前给您答复。", due=due)


def acknowledged(ref_no: str) -> Rich:
    return t("✍️ <code>{ref}</code> 承办方已签收，正在办理。", ref=ref_no)


def progress(ref_no: str, body: str) -> Rich:
    return t("🔄 <code>{ref}</code> 办理进展：\n{body}", ref=ref_no, body=body)


def closed(ref_no: str, outcome_label: str, body: str) -> Rich:
    return t(
        "🏁 <code>{ref}</code> 已办结（{outcome}）。\n办理结果：{body}\n\n"
        "请您对办理结果评价（点下面的按钮）：",
        ref=ref_no,
        outcome=outcome_label,
        body=body,
    )


def rating_reminder(ref_no: str) -> Rich:
    return t(
        "您好，<code>{ref}</code> 已办结，还请您点下面的按钮评价一下办理结果，谢谢！", ref=ref_no
    )


def rated(ref_no: str, label: str, thanks: bool = True) -> Rich:
    if not thanks:  # 不满意 is a complaint: no thanks for it
        return t("<code>{ref}</code> 您的评价：{label}。", ref=ref_no, label=label)
    return t("<code>{ref}</code> 您的评价：{label}。谢谢！", ref=ref_no, label=label)


def already_rated(label: str) -> str:
    return f"您已经评价过了（{label}），谢谢！"


def ask_optional_comment() -> Rich:
    return t("还有什么想说的，可以直接发文字给我（不需要可以忽略）。")


def unsatisfied_ask_comment(ref_no: str) -> Rich:
    return t(
        "很抱歉没有让您满意。<code>{ref}</code> 已转回工作人员重新办理。"
        "请告诉我们哪里不满意（直接发文字）。",
        ref=ref_no,
    )


def comment_thanks() -> Rich:
    return t("已把您的意见转告工作人员，谢谢！")


def rejected(ref_no: str, reason: str) -> Rich:
    return t(
        "<code>{ref}</code> 经审核不予受理。理由：{reason}\n如有疑问，可以再次留言说明。",
        ref=ref_no,
        reason=reason,
    )


def merged(ref_no: str, original: str) -> Rich:
    return t(
        "您的意见 <code>{ref}</code> 与已受理的 <code>{original}</code> 反映的是同一件事，"
        "已合并办理。后续进展会同时通知您。",
        ref=ref_no,
        original=original,
    )


def already_done() -> Rich:
    return t("这条消息已经处理过了。")


def relayed_by(representative: str, on_behalf_of: str | None) -> str:
    who = f"，反映人：{on_behalf_of}" if on_behalf_of else ""
    return f"{representative}（代表转交{who}）"


def relayed_note(on_behalf_of: str | None) -> Rich:
    if on_behalf_of:
        return t("已标记为<b>代表转交</b>，反映人：{who}。", who=on_behalf_of)
    return t("已标记为<b>代表转交</b>。如需写明反映人，可用“代张大爷反映：……”的格式开头。")


# ---- linking an identity on another channel -------------------------------------------------


def link_code(code: str, minutes: int) -> Rich:
    return t(
        "您的绑定码：<code>{code}</code>（{minutes} 分钟内有效，只能用一次）。\n"
        "请在另一个渠道（如微信公众号、钉钉或 Telegram）里给机器人发送：绑定账号 {code}\n"
        "两边就是同一个人，办理进展会发到您最近使用的渠道。",
        code=code,
        minutes=minutes,
    )


def link_usage() -> Rich:
    return t("请写上另一个渠道给您的绑定码，例如：绑定账号 12345678（/link 12345678 也可以）。")


def link_invalid() -> Rich:
    return t("绑定码无效或已过期。请在原来的渠道重新发送“绑定账号”获取新的绑定码。")


def link_throttled() -> Rich:
    return t("绑定码输错次数太多，请一小时后再试。")


def link_same_channel() -> Rich:
    return t("请在另一个渠道（不是生成绑定码的这个）发送绑定码。")


def link_done() -> Rich:
    return t("绑定成功！两个渠道的记录已合在一起，以后的进展会发到您最近使用的渠道。")


def link_already() -> Rich:
    return t("这两个账号已经绑定在一起了。")


def link_both_have_data() -> Rich:
    return t(
        "两个账号都已有意见或职务记录，无法自动合并，本次没有做任何改动。请联系联络站工作人员处理。"
    )


def held_header(count: int) -> Rich:
    """Updates that waited for the resident to write again, given together."""
    return t("您有 {n} 条新进展：", n=count)


def not_rateable(ref_no: str) -> str:
    return f"{ref_no} 还没有办结（或已重新办理），现在不能评价。办结后会请您评价。"


def anonymous_from_now(ref_no: str, seen_by: list[str]) -> Rich:
    return t(
        "<code>{ref}</code> 已设为匿名：从现在起，发给承办方的消息不再显示您的姓名。"
        "但交办时 {who} 已经看到了您的姓名，已发出的消息无法收回。",
        ref=ref_no,
        who="、".join(seen_by),
    )
