"""The push protocol's pure parts: signatures, AES framing, safe XML, push parsing, settings."""

from __future__ import annotations

import base64
import struct

import pytest

from handlers.wechat import xml
from handlers.wechat.config import TemplateSpec, WeChatConfig, from_env, parse_template
from handlers.wechat.crypto import (
    DecryptError,
    MessageCipher,
    aes_key,
    pkcs7_pad,
    pkcs7_unpad,
    sign,
    signature_ok,
    timestamp_fresh,
)
from handlers.wechat.messages import (
    ImageMessage,
    LinkMessage,
    LocationMessage,
    MenuClickEvent,
    MenuViewEvent,
    ParseError,
    ScanEvent,
    SubscribeEvent,
    TemplateSendResultEvent,
    TextMessage,
    UnknownMessage,
    UnsubscribeEvent,
    VideoMessage,
    VoiceMessage,
    parse_inbound,
)
from tests.fakewechat import (
    DEFAULT_AES_KEY,
    DEFAULT_APP_ID,
    DEFAULT_TOKEN,
    decrypt,
    encrypt,
    to_xml,
)

# Made with wechatpy 1.8.18's WeChatCrypto("liaisontesttoken", DEFAULT_AES_KEY,
# "wx1234567890abcdef").encrypt_message(PLAIN, nonce="1234567890", timestamp="1767225600"):
# an independent implementation's output, so the two agree on the wire format.
WECHATPY_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_1234567890ab]]></ToUserName><FromUserName><![CDATA["
    "oTESTopenid0000000000000000]]></FromUserName><CreateTime>1767225600</CreateTime><MsgType>"
    "<![CDATA[text]]></MsgType><Content><![CDATA[小区路灯坏了]]></Content><MsgId>"
    "24000000000000001</MsgId></xml>"
)
WECHATPY_ENCRYPT = (
    "z/CWPrleIY6za6eiV5wv/125KHHiYqqTe/lb91+hqLNe0vTae3I7Q2r31VSZjvgEmyYQS+ovjfCUdIACRHJzK2+bSpBUD"
    "j7JTLOf34gnY476KJICbPymNXNX6/YDvrXTeS/1lHaNRApiVIKvbaiQZWAGzsmzHc7apHPkHOMXeO/nnEAlPEJZpN1fTciP"
    "IAEERkUp3+Uc9hgYtrZDH+PfMkJC5xMYOzN72+p24GjvKTDGHj3KCSU9GerHjaIm9VTkrBnnM8VZF2R1CpVtCA6rjwLZb+m"
    "4HLaJ/8FLlRgg+lGPNoo5Pt1oNwl8t0XYU7qfDKkqxJESzd4ddE2sEh3PmdvV6sbrla3SZ5dVCTUNh4AH4TpvGYT831TML"
    "UIqrt53M2aeNOqoudJTLblHX24Q/OAc4x7gsn00xGC5PxE0o+BHEn6qw61MC3CvkBdxrzgICEDbpVZrzCdr0LtlzRlEZg=="
)
WECHATPY_SIGNATURE = "f91a475adfaf739c8d57e0b3ab8dae31c8436b21"


def test_signature_is_sha1_of_sorted_parts() -> None:
    import hashlib

    expected = hashlib.sha1(b"".join(sorted([b"tok", b"1700000000", b"nonce9"]))).hexdigest()
    assert sign("tok", "1700000000", "nonce9") == expected
    assert sign("nonce9", "tok", "1700000000") == expected  # order does not matter
    assert signature_ok(expected, expected.upper())
    assert not signature_ok(expected, expected[:-1] + "0")
    assert not signature_ok(expected, None)
    assert not signature_ok(expected, "不是签名")


def test_timestamp_window() -> None:
    assert timestamp_fresh("1000", 1200, 300)
    assert not timestamp_fresh("1000", 1301, 300)
    assert not timestamp_fresh("1600", 1200, 300)
    assert not timestamp_fresh(None, 1200, 300)
    assert not timestamp_fresh("-5", 1200, 300)
    assert not timestamp_fresh("12e3", 1200, 300)


def test_pkcs7_uses_32_byte_blocks() -> None:
    assert len(pkcs7_pad(b"")) == 32
    assert pkcs7_pad(b"x" * 31)[-1] == 1
    assert pkcs7_pad(b"x" * 32)[-32:] == bytes([32]) * 32
    for n in range(70):
        assert pkcs7_unpad(pkcs7_pad(b"y" * n)) == b"y" * n
    with pytest.raises(DecryptError):
        pkcs7_unpad(b"x" * 31 + b"\x00")
    with pytest.raises(DecryptError):
        pkcs7_unpad(b"x" * 30 + b"\x01\x02")
    with pytest.raises(DecryptError):
        pkcs7_unpad(b"x" * 16 + bytes([33]) * 16)


def test_aes_key_is_43_characters_plus_padding() -> None:
    assert len(aes_key(DEFAULT_AES_KEY)) == 32
    with pytest.raises(ValueError):
        aes_key("short")


def test_decrypts_what_wechatpy_encrypted() -> None:
    assert sign(DEFAULT_TOKEN, "1767225600", "1234567890", WECHATPY_ENCRYPT) == WECHATPY_SIGNATURE
    cipher = MessageCipher(DEFAULT_AES_KEY, DEFAULT_APP_ID)
    assert cipher.decrypt(WECHATPY_ENCRYPT).decode() == WECHATPY_PLAIN


def test_round_trips_with_the_fakes_independent_implementation() -> None:
    cipher = MessageCipher(DEFAULT_AES_KEY, DEFAULT_APP_ID)
    for message in (b"", b"<xml/>", "中文".encode() * 50, b"x" * 4096):
        ours = cipher.encrypt(message)
        assert decrypt(ours, DEFAULT_AES_KEY) == (message, DEFAULT_APP_ID)
        assert cipher.decrypt(encrypt(message, DEFAULT_AES_KEY, DEFAULT_APP_ID)) == message


def test_encryption_frame_layout() -> None:
    cipher = MessageCipher(DEFAULT_AES_KEY, DEFAULT_APP_ID)
    fixed = cipher.encrypt(b"hello", random_prefix=b"R" * 16)
    assert fixed == cipher.encrypt(b"hello", random_prefix=b"R" * 16)
    assert cipher.encrypt(b"hello") != cipher.encrypt(b"hello")  # random prefix
    raw = base64.b64decode(fixed)
    assert len(raw) % 32 == 0
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = aes_key(DEFAULT_AES_KEY)
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = pkcs7_unpad(dec.update(raw) + dec.finalize())
    assert plain[:16] == b"R" * 16
    assert struct.unpack(">I", plain[16:20]) == (5,)
    assert plain[20:25] == b"hello"
    assert plain[25:] == DEFAULT_APP_ID.encode()


def test_decrypt_refuses_tampering_and_other_accounts() -> None:
    cipher = MessageCipher(DEFAULT_AES_KEY, DEFAULT_APP_ID)
    good = cipher.encrypt(b"<xml>ok</xml>")
    other = MessageCipher(DEFAULT_AES_KEY, "wx0000000000000000")
    with pytest.raises(DecryptError, match="AppID"):
        other.decrypt(good)
    raw = bytearray(base64.b64decode(good))
    raw[-1] ^= 0x55  # breaks the padding block
    with pytest.raises(DecryptError):
        cipher.decrypt(base64.b64encode(bytes(raw)).decode())
    for junk in (
        "",
        "%%%",
        base64.b64encode(b"x" * 15).decode(),
        base64.b64encode(b"x" * 40).decode(),
    ):
        with pytest.raises(DecryptError):
            cipher.decrypt(junk)
    wrong_key = MessageCipher("B" * 43, DEFAULT_APP_ID)
    with pytest.raises(DecryptError):
        wrong_key.decrypt(good)


# ---------------------------------------------------------------------- XML


def test_parses_wechat_xml_with_cdata_and_nesting() -> None:
    doc = (
        b"<xml>\n <ToUserName><![CDATA[gh_1]]></ToUserName>\n <CreateTime>123</CreateTime>"
        b"<Content><![CDATA[a ]]]]><![CDATA[> b & <c>]]></Content>"
        b"<Escaped>1 &lt; 2 &amp;&#x4e2d;</Escaped>"
        b"<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
        b"<item><PicMd5Sum>b</PicMd5Sum></item></PicList></SendPicsInfo></xml>"
    )
    fields = xml.parse(doc)
    assert fields["ToUserName"] == "gh_1"
    assert fields["CreateTime"] == "123"
    assert fields["Content"] == "a ]]> b & <c>"
    assert fields["Escaped"] == "1 < 2 &中"
    pics = fields["SendPicsInfo"]
    assert isinstance(pics, dict)
    assert pics["PicList"] == {"item": [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]}


@pytest.mark.parametrize(
    "doc",
    [
        # billion laughs (entity expansion)
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
        b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Content>&c;</Content></xml>',
        # XXE: file read
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<xml><Content>&e;</Content></xml>",
        # external DTD / parameter entity
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><xml/>',
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><xml/>',
        # an entity that is simply undeclared
        b"<xml><Content>&undeclared;</Content></xml>",
        b"<xml><Content>unclosed</xml>",
        b"",
        b"<a>" * 20 + b"</a>" * 20,
    ],
)
def test_refuses_dtds_entities_and_junk(doc: bytes) -> None:
    with pytest.raises(xml.XmlError):
        xml.parse(doc)


def test_build_escapes_cdata_end() -> None:
    doc = xml.build([("Content", "x]]>y"), ("CreateTime", 5), ("Image", [("MediaId", "m")])])
    assert xml.parse(doc) == {"Content": "x]]>y", "CreateTime": "5", "Image": {"MediaId": "m"}}


# ---------------------------------------------------------------------- pushes


def _push(msg_type: str, *fields: tuple[str, object]) -> TextMessage | object:
    head: list[tuple[str, object]] = [
        ("ToUserName", "gh_1"),
        ("FromUserName", "oUser"),
        ("CreateTime", 1767225600),
        ("MsgType", msg_type),
    ]
    return parse_inbound(xml.parse(to_xml([*head, *fields])))


def test_parses_every_message_type() -> None:
    text = _push("text", ("Content", "你好"), ("MsgId", 1))
    assert text == TextMessage(
        to_user="gh_1", from_user="oUser", create_time=1767225600, msg_id="1", content="你好"
    )
    assert isinstance(text, TextMessage)
    assert text.idempotency_key == "wechat:msg:oUser:1"
    assert text.openid == "oUser"
    image = _push("image", ("PicUrl", "http://p/1"), ("MediaId", "m1"), ("MsgId", 2))
    assert isinstance(image, ImageMessage) and (image.pic_url, image.media_id) == (
        "http://p/1",
        "m1",
    )
    voice = _push(
        "voice", ("MediaId", "v"), ("Format", "amr"), ("Recognition", "路灯坏了"), ("MsgId", 3)
    )
    assert isinstance(voice, VoiceMessage) and voice.recognition == "路灯坏了"
    bare_voice = _push("voice", ("MediaId", "v"), ("Format", "amr"), ("MsgId", 4))
    assert isinstance(bare_voice, VoiceMessage) and bare_voice.recognition is None
    video = _push("shortvideo", ("MediaId", "v"), ("ThumbMediaId", "t"), ("MsgId", 5))
    assert isinstance(video, VideoMessage) and video.short
    location = _push(
        "location",
        ("Location_X", 23.134521),
        ("Location_Y", 113.358803),
        ("Scale", 20),
        ("Label", "广州"),
        ("MsgId", 6),
    )
    assert isinstance(location, LocationMessage)
    assert (location.latitude, location.longitude, location.scale, location.label) == (
        23.134521,
        113.358803,
        20,
        "广州",
    )
    link = _push("link", ("Title", "t"), ("Description", "d"), ("Url", "https://x"), ("MsgId", 7))
    assert isinstance(link, LinkMessage) and link.url == "https://x"
    card = _push("miniprogrampage", ("Title", "t"), ("MsgId", 8))
    assert isinstance(card, UnknownMessage) and card.msg_type == "miniprogrampage"


def test_parses_events_and_their_keys() -> None:
    follow = _push("event", ("Event", "subscribe"), ("EventKey", ""))
    assert isinstance(follow, SubscribeEvent) and follow.scene is None
    assert follow.idempotency_key == "wechat:event:oUser:1767225600:subscribe"
    via_qr = _push(
        "event", ("Event", "subscribe"), ("EventKey", "qrscene_station-7"), ("Ticket", "T")
    )
    assert isinstance(via_qr, SubscribeEvent) and (via_qr.scene, via_qr.ticket) == (
        "station-7",
        "T",
    )
    scan = _push("event", ("Event", "SCAN"), ("EventKey", "station-7"), ("Ticket", "T"))
    assert isinstance(scan, ScanEvent) and scan.scene == "station-7"
    assert scan.idempotency_key != via_qr.idempotency_key
    assert isinstance(_push("event", ("Event", "unsubscribe")), UnsubscribeEvent)
    click = _push("event", ("Event", "CLICK"), ("EventKey", "MY_OPINIONS"))
    assert isinstance(click, MenuClickEvent) and click.key == "MY_OPINIONS"
    view = _push("event", ("Event", "VIEW"), ("EventKey", "https://x/help"), ("MenuId", "9"))
    assert isinstance(view, MenuViewEvent) and (view.url, view.menu_id) == ("https://x/help", "9")
    done = _push(
        "event", ("Event", "TEMPLATESENDJOBFINISH"), ("MsgID", 200163836), ("Status", "success")
    )
    assert (
        isinstance(done, TemplateSendResultEvent) and done.delivered and done.msg_id == "200163836"
    )


def test_push_without_required_fields_is_refused() -> None:
    with pytest.raises(ParseError):
        parse_inbound(xml.parse(to_xml([("ToUserName", "gh"), ("MsgType", "text")])))
    with pytest.raises(ParseError):
        _push("text", ("Content", "no id"))


# ---------------------------------------------------------------------- settings


def test_from_env_reads_every_variable() -> None:
    assert from_env({}) is None
    cfg = from_env(
        {
            "WECHAT_APP_ID": "wx1",
            "WECHAT_APP_SECRET": "s",
            "WECHAT_TOKEN": "tok123",
            "WECHAT_AES_KEY": DEFAULT_AES_KEY,
            "WECHAT_BASE_URL": "http://127.0.0.1:9/",
            "WECHAT_PATH": "/wx",
            "WECHAT_TOKEN_API": "classic",
            "WECHAT_TIMESTAMP_WINDOW": "120",
            "WECHAT_REPLY_DEADLINE": "3.5",
            "WECHAT_TEMPLATE_PROGRESS": "TPL1;character_string1=ref, thing2=title,time3=when",
        }
    )
    assert cfg is not None
    assert cfg.mode == "safe"  # a key and no WECHAT_MODE
    assert cfg.api_base_url == "http://127.0.0.1:9"
    assert (cfg.endpoint_path, cfg.token_api, cfg.timestamp_window, cfg.reply_deadline) == (
        "/wx",
        "classic",
        120.0,
        3.5,
    )
    assert cfg.template("progress") == TemplateSpec(
        "TPL1", (("character_string1", "ref"), ("thing2", "title"), ("time3", "when"))
    )
    assert cfg.template("rating") is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WECHAT_TOKEN": "tok123"}, "APP_SECRET"),
        ({"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "x"}, "WECHAT_TOKEN"),
        (
            {"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "tok123", "WECHAT_AES_KEY": "short"},
            "WECHAT_AES_KEY",
        ),
        (
            {"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "tok123", "WECHAT_MODE": "safe"},
            "needs WECHAT_AES_KEY",
        ),
        (
            {"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "tok123", "WECHAT_MODE": "secret"},
            "WECHAT_MODE",
        ),
        (
            {"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "tok123", "WECHAT_REPLY_DEADLINE": "6"},
            "DEADLINE",
        ),
        (
            {"WECHAT_APP_SECRET": "s", "WECHAT_TOKEN": "tok123", "WECHAT_TEMPLATE_X": "id;=x"},
            "keyword",
        ),
    ],
)
def test_from_env_names_the_bad_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_env({"WECHAT_APP_ID": "wx1", **env})


def test_parse_template_needs_fields() -> None:
    with pytest.raises(ValueError):
        parse_template("ID")
    with pytest.raises(ValueError):
        parse_template(";thing1=title")


def test_config_defaults() -> None:
    cfg = WeChatConfig(app_id="wx1", app_secret="s", token="tok123")
    assert (cfg.mode, cfg.api_base_url, cfg.endpoint_path, cfg.token_api) == (
        "plain",
        "https://api.weixin.qq.com",
        "/wechat",
        "stable",
    )
