"""WeChat's documented (and, where the docs are silent, measured) limits, with their sources.

Doc pages are under https://developers.weixin.qq.com/doc/offiaccount/ (公众号) unless a full
address is given; "community" means answers in developers.weixin.qq.com/community, which is
where WeChat staff answer questions the docs leave open.
"""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class WeChatLimits:
    # message push (接收普通消息 / 被动回复用户消息)
    push_answer_seconds: float = 5.0
    push_deliveries: int = 3
    # customer-service window (客服消息 "客服消息下发规则", since 2023-06)
    window_after_message_seconds: float = 48 * 3600.0
    window_after_message_sends: int = 5
    window_after_event_seconds: float = 60.0
    window_after_event_sends: int = 3
    text_bytes: int = 2048
    # template messages (模板消息接口)
    template_thing_chars: int = 20
    template_character_string_chars: int = 32
    template_phrase_chars: int = 5
    template_name_chars: int = 10
    template_sends_per_day: int = 100_000
    template_client_msg_id_seconds: float = 600.0
    # daily API quotas of a new account (接口调用频次限制说明)
    token_calls_per_day: int = 2000
    custom_sends_per_day: int = 500_000
    qrcode_creates_per_day: int = 100_000
    menu_creates_per_day: int = 1000
    media_uploads_per_day: int = 100_000
    media_downloads_per_day: int = 200_000
    # access token
    token_seconds: float = 7200.0
    token_overlap_seconds: float = 300.0
    token_storage_chars: int = 512
    stable_token_calls_per_minute: int = 10_000
    stable_token_calls_per_day: int = 500_000
    stable_force_refreshes_per_day: int = 20
    stable_force_refresh_interval_seconds: float = 30.0
    # media
    media_kept_seconds: float = 3 * 86400.0
    image_upload_bytes: int = 2 * MB
    voice_upload_bytes: int = 2 * MB
    voice_seconds: float = 60.0
    video_upload_bytes: int = 10 * MB
    thumb_upload_bytes: int = 64 * KB
    # parametric QR codes
    permanent_qrcodes: int = 100_000
    temporary_qrcode_seconds: int = 2_592_000
    scene_str_chars: int = 64
    # custom menu
    menu_top_buttons: int = 3
    menu_sub_buttons: int = 5
    menu_top_name_bytes: int = 16
    menu_sub_name_bytes: int = 60
    menu_key_bytes: int = 128
    menu_url_bytes: int = 1024


SOURCES: dict[str, str] = {
    "push_answer_seconds": "Message_Management/Receiving_standard_messages.html: 微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求",
    "push_deliveries": "same page: 总共重试三次; observed as three deliveries in all (offu/WeRoBot#781, chanxuehong/wechat#98)",
    "window_after_message_seconds": "Customer_Service/Customer_Service_Messages.html 客服消息下发规则: 用户发送消息 5条 48小时",
    "window_after_message_sends": "same table",
    "window_after_event_seconds": "same table: 点击自定义菜单 / 关注 / 扫描二维码 3条 1分钟",
    "window_after_event_sends": "same table",
    "text_bytes": "not documented; 45002 'content size out of limit' beyond 2048 bytes (community answer to 'send msgtype=text content 上限多少': 2048)",
    "template_thing_chars": "Message_Management/Template_Message_Interface.html 类目模板消息参数值内容限制: thing 20个以内字符",
    "template_character_string_chars": "same table: character_string 32位以内数字、字母或符号 (Chinese answers 47003)",
    "template_phrase_chars": "same table: phrase 5个以内汉字",
    "template_name_chars": "same table: name 10个以内纯汉字或20个以内纯字母或符号",
    "template_sends_per_day": "service/en/guide/product/template_message/Template_Message_Interface.html: The current daily limit for template messages per account is 100 thousand",
    "template_client_msg_id_seconds": "service/api/notify/template/api_sendtemplatemessage: client_msg_id 防重入, 10分钟有效",
    "token_calls_per_day": "Message_Management/API_Call_Limits.html: 获取access_token 2000",
    "custom_sends_per_day": "same page: 发送客服消息 500000",
    "qrcode_creates_per_day": "same page: 获取带参数的二维码 100000",
    "menu_creates_per_day": "same page: 自定义菜单创建 1000",
    "media_uploads_per_day": "same page: 上传多媒体文件 100000",
    "media_downloads_per_day": "same page: 下载多媒体文件 200000",
    "token_seconds": "Basic_Information/Get_access_token.html: access_token的有效期目前为2个小时，需定时刷新",
    "token_overlap_seconds": "same page (English edition): both new and old access_token values are available within five minutes",
    "token_storage_chars": "same page: access_token的存储至少要保留512个字符空间",
    "stable_token_calls_per_minute": "service/api/base/api_getstableaccesstoken 注意事项: 1万次每分钟",
    "stable_token_calls_per_day": "same: 每天限制调用 50万 次",
    "stable_force_refreshes_per_day": "same: 强制刷新模式每天限用20次",
    "stable_force_refresh_interval_seconds": "same: 且需间隔30秒",
    "media_kept_seconds": "service/api/material/temporary/api_uploadtempmedia: 媒体文件在微信后台保存时间为3天，即3天后media_id失效",
    "image_upload_bytes": "service/api/material/temporary/api_uploadtempmedia: 注意事项 图片2MB (the same page also says 10M; 2 MB is the safe one)",
    "voice_upload_bytes": "same page: 语音(voice): 2M，播放长度不超过60s，支持AMR\\MP3格式",
    "voice_seconds": "same line",
    "video_upload_bytes": "same page: 视频(video): 10MB，支持MP4格式",
    "thumb_upload_bytes": "same page: 缩略图(thumb): 64KB，支持JPG格式",
    "permanent_qrcodes": "Account_Management/Generating_a_Parametric_QR_Code.html: 永久二维码…目前为最多10万个",
    "temporary_qrcode_seconds": "same page: 最长可以设置为在二维码生成后的30天（即2592000秒）后过期",
    "scene_str_chars": "same page: scene_str 长度限制为1到64",
    "menu_top_buttons": "Custom_Menus/Creating_Custom-Defined_Menu.html: 自定义菜单最多包括3个一级菜单",
    "menu_sub_buttons": "same page: 每个一级菜单最多包含5个二级菜单",
    "menu_top_name_bytes": "same page: 一级菜单最多4个汉字 … name 菜单标题，不超过16个字节",
    "menu_sub_name_bytes": "same page: 子菜单不超过60个字节",
    "menu_key_bytes": "same page: key 菜单KEY值 … 不超过128字节",
    "menu_url_bytes": "same page: url 网页链接 … 不超过1024字节",
}

LIMITS = WeChatLimits()
