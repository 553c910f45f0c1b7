"""What residents read. Short sentences, one action per message: many readers are elderly."""

from __future__ import annotations

from datetime import datetime

from texts import esc
from texts.common import status_name


def welcome(station_name: str) -> str:
    return (
        f"您好！这里是<b>{esc(station_name)}</b>的意见建议受理助手。\n\n"
        "有什么意见、建议或者困难，<b>直接打字发给我</b>就行（5 到 2000 字）。"
        "我们会登记编号、分类，交给人大代表或相关部门办理，每一步都会告诉您。\n\n"
        "也可以发照片、语音、文件或位置作为补充。\n"
        "查看我提交的意见：/my\n"
        "查询某一条：/status 受理编号\n"
        "帮助：/help"
    )


def help_text() -> str:
    return (
        "<b>怎么用</b>\n"
        "• 直接发送文字，就是提交一条意见建议（5 到 2000 字）。\n"
        "• 发照片、语音、文件或位置，会补充到您最近一条未办结的意见里。\n"
        "• /my 查看我提交的意见和办理进度\n"
        "• /status LL-2026-00001 查询某一条\n"
        "• /start 重新查看说明"
    )


def station_unknown(code: str) -> str:
    return f"没有找到代码为 {esc(code)} 的联络站，已为您使用默认联络站。如有疑问请联系工作人员。"


def bound_to_station(station_name: str) -> str:
    return f"已为您绑定<b>{esc(station_name)}</b>。"


def receipt(
    ref_no: str, theme_label: str, anonymous: bool, *, duplicate_delivery: bool = False
) -> str:
    visibility = "匿名（承办人看不到您的姓名）" if anonymous else "实名（承办人可以看到您的姓名）"
    head = "您的意见已收到，已登记：" if not duplicate_delivery else "这条意见之前已经登记过："
    return (
        f"✅ {head}\n"
        f"受理编号：<code>{esc(ref_no)}</code>\n"
        f"分类：{esc(theme_label)}\n"
        f"身份：{visibility}\n\n"
        "我们会尽快处理，每一步都会通知您。可用下面的按钮补充说明、选择是否匿名，或在交办前撤回。"
    )


def too_short(min_chars: int) -> str:
    return f"内容有点短，请把问题说得具体一些（至少 {min_chars} 个字），比如在哪里、什么事、希望怎么解决。"


def too_long(length: int, max_chars: int) -> str:
    return (
        f"内容有 {length} 字，超过了单条 {max_chars} 字的上限，这条没有登记。"
        f"请精简后再发，或者分成几条发送（第二条起可点“补充说明”接在第一条后面）。"
    )


def no_text_only_emoji() -> str:
    return "我只看到了表情或符号。请用文字写下您的意见建议，例如：哪里、什么问题、希望怎么解决。"


def rate_limited(limit: int) -> str:
    return f"您一小时内已提交 {limit} 条意见，先歇一歇吧。请稍后再发，已提交的意见都已保存。"


def sticker_reply() -> str:
    return "收到您的表情啦 😊 如需提交意见，请直接用文字写给我。"


def unknown_command() -> str:
    return "没有这个命令。直接发文字就是提交意见；/my 查看我的意见；/help 查看帮助。"


def forwarded_reply() -> str:
    return (
        "这是一条转发的消息，为避免误登记，转发内容不会自动作为意见提交。"
        "如果这是您的意见，请复制内容后直接发送给我。"
    )


def ask_detail(ref_no: str) -> str:
    return f"请发送对 <code>{esc(ref_no)}</code> 的补充说明（文字、照片、语音或文件都可以）。"


def detail_added(ref_no: str, kind_label: str) -> str:
    return f"收到，{esc(kind_label)}已添加到 <code>{esc(ref_no)}</code>。"


def attachment_started(ref_no: str, kind_label: str) -> str:
    return f"已收到{esc(kind_label)}，并新登记为意见 <code>{esc(ref_no)}</code>。建议再用文字说明一下具体情况。"


def attachment_needs_text(kind_label: str) -> str:
    return f"收到{esc(kind_label)}。请先用文字说明您的意见（在哪里、什么问题），再发{esc(kind_label)}作为补充。"


def anonymity_set(ref_no: str, anonymous: bool) -> str:
    if anonymous:
        return f"<code>{esc(ref_no)}</code> 已设为匿名：承办的代表和部门看不到您的姓名。"
    return f"<code>{esc(ref_no)}</code> 已设为实名：承办的代表和部门可以看到您的姓名，便于联系您。"


def withdrawn(ref_no: str) -> str:
    return f"<code>{esc(ref_no)}</code> 已撤回。如需再次反映，直接发送文字即可。"


def cannot_withdraw(ref_no: str, status: str) -> str:
    return f"<code>{esc(ref_no)}</code> 当前状态为“{esc(status_name(status))}”，已交办后不能撤回。"


def edit_recorded(ref_no: str) -> str:
    return f"已记录您对 <code>{esc(ref_no)}</code> 的修改，工作人员会看到修改前后的内容。"


def edit_too_late(ref_no: str) -> str:
    return f"<code>{esc(ref_no)}</code> 已在办理中，修改内容请用“补充说明”发送。"


def my_list_empty() -> str:
    return "您还没有提交过意见。直接发送文字就可以提交。"


def my_list_header(total: int, page: int, pages: int) -> str:
    return f"<b>我的意见</b>（共 {total} 条，第 {page}/{pages} 页，最新的在前）"


def my_list_item(ref_no: str, status: str, created: datetime, text: str) -> str:
    snippet = text if len(text) <= 40 else text[:40] + "…"
    return (
        f"<code>{esc(ref_no)}</code> · {esc(status_name(status))} · {created:%m-%d}\n{esc(snippet)}"
    )


def status_usage() -> str:
    return "请在命令后写上受理编号，例如：/status LL-2026-00001"


def status_not_found(raw: str) -> str:
    return f"没有找到您提交的编号为 {esc(raw)} 的意见，请核对编号。可发送 /my 查看全部。"


def status_detail(
    ref_no: str, status: str, theme_label: str, created: datetime, text: str, anonymous: bool
) -> str:
    return (
        f"受理编号：<code>{esc(ref_no)}</code>\n"
        f"状态：<b>{esc(status_name(status))}</b>\n"
        f"分类：{esc(theme_label)}\n"
        f"提交时间：{created:%Y-%m-%d %H:%M}\n"
        f"身份：{'匿名' if anonymous else '实名'}\n\n"
        f"{esc(text)}"
    )


def group_hint() -> str:
    return "请私聊我提交意见建议，群里的消息我不会登记。"


def kind_label(kind: str) -> str:
    return {
        "photo": "照片",
        "document": "文件",
        "voice": "语音",
        "audio": "音频",
        "video": "视频",
        "location": "位置",
        "text": "补充说明",
    }.get(kind, "附件")


BTN_DETAIL = "📝 补充说明"
BTN_ANON = "🙈 改为匿名"
BTN_REAL = "🙋 改为实名"
BTN_WITHDRAW = "↩️ 撤回"
BTN_PREV = "« 上一页"
BTN_NEXT = "下一页 »"


def unsupported_message() -> str:
    return "暂时不支持这种消息。请用文字写下您的意见，也可以发照片、语音、文件或位置作为补充。"


RATING_LABELS = {
    "satisfied": "😊 满意",
    "basic": "🙂 基本满意",
    "unsatisfied": "😞 不满意",
    "unrated": "未评价",
}


def assigned(ref_no: str, assignee: str) -> str:
    return f"📤 您的意见 <code>{esc(ref_no)}</code> 已交办给<b>{esc(assignee)}</b>办理。"


def acknowledged(ref_no: str) -> str:
    return f"✍️ <code>{esc(ref_no)}</code> 承办方已签收，正在办理。"


def progress(ref_no: str, body: str) -> str:
    return f"🔄 <code>{esc(ref_no)}</code> 办理进展：\n{esc(body)}"


def closed(ref_no: str, outcome: str, outcome_label: str, body: str) -> str:
    return (
        f"🏁 <code>{esc(ref_no)}</code> 已办结（{esc(outcome_label)}）。\n"
        f"办理结果：{esc(body)}\n\n请您对办理结果评价（点下面的按钮）："
    )


def rating_reminder(ref_no: str) -> str:
    return f"您好，<code>{esc(ref_no)}</code> 已办结，还请您点下面的按钮评价一下办理结果，谢谢！"


def rated(ref_no: str, label: str) -> str:
    return f"<code>{esc(ref_no)}</code> 您的评价：{esc(label)}。谢谢！"


def already_rated(label: str) -> str:
    return f"您已经评价过了（{label}），谢谢！"


def ask_optional_comment() -> str:
    return "还有什么想说的，可以直接发文字给我（不需要可以忽略）。"


def unsatisfied_ask_comment(ref_no: str) -> str:
    return f"很抱歉没有让您满意。<code>{esc(ref_no)}</code> 已转回工作人员重新办理。请告诉我们哪里不满意（直接发文字）。"


def comment_thanks() -> str:
    return "已把您的意见转告工作人员，谢谢！"


def rejected(ref_no: str, reason: str) -> str:
    return f"<code>{esc(ref_no)}</code> 经审核不予受理。理由：{esc(reason)}\n如有疑问，可以再次留言说明。"


def merged(ref_no: str, original: str) -> str:
    return (
        f"您的意见 <code>{esc(ref_no)}</code> 与已受理的 <code>{esc(original)}</code> 反映的是同一件事，"
        "已合并办理。后续进展会同时通知您。"
    )


def already_done() -> str:
    return "这条消息已经处理过了。"


def relayed_by(representative: str, on_behalf_of: str | None) -> str:
    who = f"，反映人：{on_behalf_of}" if on_behalf_of else ""
    return f"{representative}（代表转交{who}）"


def relayed_note(on_behalf_of: str | None) -> str:
    if on_behalf_of:
        return f"已标记为<b>代表转交</b>，反映人：{esc(on_behalf_of)}。"
    return "已标记为<b>代表转交</b>。如需写明反映人，可用“代张大爷反映：……”的格式开头。"
