"""Strings the WeChat channel adds around a message. Plain text (WeChat shows no HTML but links).

Many readers are elderly: short lines, a number to reply with, and the meaning next to it.
"""

from __future__ import annotations

from texts import Rich, t


def choices_intro() -> str:
    return "请回复数字："


def choice_line(number: int, label: str) -> str:
    # an ideographic space keeps the labels in one column for numbers 1–9
    return f"回复 {number}\u3000{label}"


def reply_prefix() -> str:
    """What residents may type before the number ("回复1")."""
    return "回复"


def ellipsis() -> str:
    return "…"


# ---- template pointers (模板消息): at most 20 characters a line are shown -----------------------


def template_title() -> str:
    return "您反映的问题有新进展"


def template_status(question: bool) -> str:
    return "请您评价" if question else "有新进展"


def template_hint() -> str:
    return "回复任意文字查看详情"


# ---- what residents read on the official account (large, plain words; no slashes) -------------


def resident_name(openid: str) -> str:
    """WeChat no longer tells an account its followers' names: staff see this instead."""
    return f"微信用户{openid[-4:]}"


def welcome(station_name: str) -> Rich:
    return t(
        "您好！这里是{station}的意见建议受理窗口。\n\n"
        "有什么意见、建议或者困难，直接打字发过来就行（5 到 2000 字）。\n"
        "我们会登记编号，交给人大代表或有关部门办理，每一步都会告诉您。\n\n"
        "还可以发照片、语音、位置，补充说明情况。\n\n"
        "发送“我的意见”：看我提交过的意见\n"
        "发送“查询进度 编号”：查某一条\n"
        "发送“使用说明”：看怎么用",
        station=station_name,
    )


def help_text() -> Rich:
    return t(
        "怎么用：\n\n"
        "1. 直接打字发过来，就是提交一条意见（5 到 2000 字）。\n"
        "2. 照片、语音、位置会补充到您最近的一条意见里。\n"
        "3. 发送“我的意见”，看办理进度。\n"
        "4. 发送“查询进度 LL-2026-00001”，查某一条。\n"
        "5. 让您选择时，回复前面的数字就行，比如回复 1。"
    )


def how_to() -> Rich:
    return t(
        "提意见很简单：\n\n"
        "直接在下面输入框里打字，写清楚在哪里、什么事、希望怎么解决，发送就行。\n"
        "不方便打字，也可以按住说话发语音，或者发照片。"
    )


def empty_text() -> Rich:
    return t("没有收到文字。请直接打字写下您的意见，再发送。")


def unsupported(kind: str) -> Rich:
    return t(
        "暂时不能接收{kind}。\n请用文字写下您的意见；照片、语音、位置可以作为补充。",
        kind=kind,
    )


def kind_name(msg_type: str) -> str:
    return {"video": "视频", "shortvideo": "小视频", "file": "文件"}.get(msg_type, "这种消息")


def link_caption(title: str, url: str) -> str:
    return f"{title}\n{url}".strip()


# The core's words point at buttons; on the official account the choices are numbers.
BUTTON_WORDS = (
    (
        "可用下面的按钮补充说明、选择是否匿名，或在交办前撤回。",
        "需要补充说明、改匿名或撤回，回复下面的数字。",
    ),
    ("（点下面的按钮）", ""),
    ("点下面的按钮评价", "回复数字评价"),
    ("请点下面的按钮。", "请回复下面的数字。"),
    (
        "这个按钮已失效，请重新打开列表或发送 /help。",
        "这个选项已失效，请发送“我的意见”或“使用说明”重新开始。",
    ),
)


def without_buttons(text: str) -> str:
    for old, new in BUTTON_WORDS:
        if old in text:
            text = text.replace(old, new)
    return text


# ---- the account's menu (top-level names: at most 4 Chinese characters) ----------------------

MENU_SUBMIT = "提意见"
MENU_MINE = "我的意见"
MENU_MORE = "使用帮助"
MENU_STATUS = "查询进度"
MENU_HELP = "使用说明"


def status_how() -> Rich:
    return t(
        "查某一条意见：发送“查询进度”加上受理编号，比如：\n查询进度 LL-2026-00001\n\n"
        "看全部意见：发送“我的意见”。"
    )


# ---- `liaison-bot wechat …` (staff at a terminal) ---------------------------------------------


def cli_menu_done() -> str:
    return "公众号菜单已安装（提意见 / 我的意见 / 使用帮助），几分钟内在手机上生效。"


def cli_qrcode_done(code: str, path: str) -> str:
    return f"已生成联络站 {code} 的永久二维码：{path}（扫码关注即绑定该联络站，可打印张贴）"


def cli_no_station(code: str) -> str:
    return f"没有代码为 {code} 的联络站。"


def cli_no_media(ref: str) -> str:
    return f"{ref} 没有来自微信的照片或语音。"


def cli_media_done(count: int, folder: str) -> str:
    return f"已下载 {count} 个文件到 {folder}（微信只保存 3 天）。"


def cli_failed(reason: str) -> str:
    return f"微信接口调用失败：{reason}"
