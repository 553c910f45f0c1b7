"""A fake Telegram Bot API server: the real bot talks HTTP to it and tests drive and read it.

Responses have the Bot API's shapes and errors have Telegram's status codes and wording, so
python-telegram-bot parses everything and raises the same exceptions it would in production.
Tests inject user actions (messages, button presses, group joins) as updates and read what the
bot sent; waits wake on state changes instead of sleeping.

The server runs either in a background thread with its own event loop (:meth:`FakeBotApi.start`,
usable from sync tests, async tests and scripts) or in the caller's loop (:meth:`astart`). The
control API is thread-safe: every method takes one lock and returns copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import math
import mimetypes
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.localhttp import LocalServer

from .html_check import HtmlParseError, ParsedText, entity_order, parse_html, trim, utf16_len

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-token-abcdefghij"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)

# Update kinds delivered when allowed_updates was never given (Telegram's default).
DEFAULT_UPDATE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "animation",
    "sticker",
    "location",
    "contact",
)
_MEDIA_KINDS = ("photo", "document", "voice", "audio", "video", "animation", "sticker")
_FOLDERS = {
    "photo": "photos",
    "document": "documents",
    "voice": "voice",
    "audio": "music",
    "video": "videos",
    "animation": "animations",
    "sticker": "stickers",
}
_DEFAULT_MIME = {
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "animation": "video/mp4",
    "sticker": "image/webp",
    "photo": "image/jpeg",
}

# How form-encoded parameters are typed. python-telegram-bot sends every non-string value as
# JSON text in a form field, so the server must know which fields are not strings.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "menu_button",
        "media",
        "message_ids",
        "permissions",
    }
)
_INT_FIELDS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "user_id",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "duration",
        "width",
        "height",
        "max_connections",
        "until_date",
        "from_chat_id",
    }
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "only_if_banned",
        "revoke_messages",
        "for_channels",
        "allow_paid_broadcast",
        "show_caption_above_media",
    }
)


class ApiError(Exception):
    """A Bot API error response: HTTP status, Telegram's description, optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters
        self.only_chat: int | None = None  # an injected failure for calls to this chat only

    def body(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        out: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def _bad(reason: str) -> ApiError:
    return ApiError(400, "Bad Request: " + reason)


def flood_error(retry_after: int) -> ApiError:
    """The 429 Telegram sends when flood control refuses a request."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass
class FloodLimits:
    """Flood-control windows (None = unlimited). Real Telegram is about 30/s, 20/min, 1/s."""

    global_per_second: int | None = None
    group_per_minute: int | None = None
    private_per_second: int | None = None

    @classmethod
    def telegram(cls) -> FloodLimits:
        """The limits Telegram documents for bots."""
        return cls(global_per_second=30, group_per_minute=20, private_per_second=1)

    @property
    def enabled(self) -> bool:
        """Whether any window is limited."""
        return any(
            v is not None
            for v in (self.global_per_second, self.group_per_minute, self.private_per_second)
        )


@dataclass
class StoredFile:
    """A file the server holds: uploaded by the bot or sent by a (fake) user."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str
    width: int = 0
    height: int = 0
    duration: int = 0

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    blocked: bool = False  # the user blocked the bot / the bot was kicked
    started: bool = True  # private chats: the user has talked to the bot
    left: bool = False  # groups: the bot left
    migrated_to: int | None = None  # a group upgraded to this supergroup
    next_message_id: int = 1
    members: dict[int, JSON] = field(default_factory=dict)  # user id -> {"status": ..., extras}

    def as_json(self) -> JSON:
        out: JSON = {"id": self.id}
        if self.type == "private":
            out["first_name"] = self.first_name or ""
            if self.last_name:
                out["last_name"] = self.last_name
        else:
            out["title"] = self.title or ""
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        out["type"] = self.type
        return out


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


class FakeBotApi(LocalServer):
    """Bot API server for tests, with a thread-safe control API to play users and read results.

    Use as ``with FakeBotApi() as fake`` (background thread) or ``async with FakeBotApi()``
    (caller's loop); point the bot at :attr:`base_url` and :attr:`base_file_url`.
    """

    thread_name = "fakebot-server"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "联络站助手",
        bot_username: str = "liaison_test_bot",
        flood: FloodLimits | None = None,
        strict_html: bool = True,
        callback_timeout: float | None = None,
        webhook_retry_delay: float = 0.2,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host, port)
        self._token = token
        self._clock = clock
        self.strict_html = strict_html
        self.callback_timeout = callback_timeout
        self.webhook_retry_delay = webhook_retry_delay
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self._bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        self._listeners: list[Callable[[JSON], None]] = []

        self._flood = flood or FloodLimits()
        self._flood_global: deque[float] = deque()
        self._flood_chat: dict[int, deque[float]] = {}
        self._failures: dict[str, deque[ApiError]] = {}
        self._count_429 = 0

        self._users: dict[int, JSON] = {}
        self._chats: dict[int, _Chat] = {}
        self._history: dict[tuple[int, int], JSON] = {}  # every message in every chat
        self._records: list[JSON] = []  # what the bot sent, in order
        self._record_index: dict[tuple[int, int], JSON] = {}
        self._seq = 0  # bumps on every send/edit/delete by the bot
        self._seen: dict[int, int] = {}  # record seq -> version returned by wait_for_message
        self._calls: list[JSON] = []
        self._callbacks: dict[str, JSON] = {}
        self._answers: list[JSON] = []
        self._files: dict[str, StoredFile] = {}
        self._file_paths: dict[str, StoredFile] = {}
        self._file_counter = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._menu_buttons: dict[int | None, JSON] = {}
        self._descriptions: dict[str, str] = {}

        self._updates: list[JSON] = []  # every update ever injected
        self._pending: deque[JSON] = deque()  # not yet confirmed
        self._next_update_id = 100
        self._next_callback_id = 1
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_KINDS
        self._webhook: _Webhook | None = None
        self._webhook_busy = False

        self._inflight = 0
        self._last_activity = time.monotonic()
        self._poll_generation = 0
        self._waiting_pollers = 0

        self._pollers: set[asyncio.Event] = set()
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._stopping = False

        self._handlers: dict[str, Callable[[JSON, dict[str, _Upload]], Any]] = {}
        self._method_names: dict[str, str] = {"getupdates": "getUpdates"}
        for attr in dir(self):
            if attr.startswith("_m_"):
                name = attr[3:]
                self._handlers[name.lower()] = getattr(self, attr)
                self._method_names[name.lower()] = name

    # ------------------------------------------------------------------ lifecycle

    @property
    def token(self) -> str:
        """The only token this server accepts."""
        return self._token

    @property
    def base_url(self) -> str:
        """What to give PTB as base_url: it appends ``<token>/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What to give PTB as base_file_url (file downloads)."""
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> JSON:
        """The bot's User object, as getMe returns it."""
        return copy.deepcopy(self._bot_user)

    async def _open(self) -> None:
        self._stopping = False
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll whose client went away ends at once, as on Telegram,
        # instead of lingering and later being "terminated by other getUpdates request".
        await self._serve(app, shutdown_timeout=1.0, handler_cancellation=True)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._webhook_task = asyncio.create_task(self._webhook_loop(), name="fakebot-webhook")

    async def _close(self) -> None:
        self._stopping = True
        self._wake_pollers()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._unserve()

    # ------------------------------------------------------------------ notification

    def _changed(self, updates: bool = False) -> None:
        """Wake every waiter (lock held): sync waits, async waits and, for updates, long polls."""
        super()._changed()
        if updates and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the server loop is closing
                self._loop.call_soon_threadsafe(self._wake_pollers)

    def _wake_pollers(self) -> None:
        for event in list(self._pollers):
            event.set()

    def add_listener(self, callback: Callable[[JSON], None]) -> None:
        """Call ``callback(record)`` after every send/edit/delete by the bot (in the server thread)."""
        with self._lock:
            self._listeners.append(callback)

    # ------------------------------------------------------------------ HTTP layer

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
        raw: JSON = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = _Upload(
                            value.filename, value.content_type, value.file.read()
                        )
                    else:
                        raw[key] = value
            else:
                body = await request.read()
                if body.strip():
                    try:
                        data = json.loads(body)
                    except ValueError:
                        raise _bad("can't parse JSON object") from None
                    if not isinstance(data, dict):
                        raise _bad("can't parse JSON object")
                    raw.update(data)
        return {key: _coerce(key, value) for key, value in raw.items()}, uploads

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method_raw = request.match_info["method"]
        name = self._method_names.get(method_raw.lower(), method_raw)
        long_poll = name == "getUpdates"
        call: JSON = {"method": name, "params": {}, "time": time.time(), "status": None}
        with self._lock:
            self._calls.append(call)
            if not long_poll:
                self._inflight += 1
                self._last_activity = time.monotonic()
        status, body = 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        try:
            params, uploads = await self._read_params(request)
            call["params"] = _loggable(params, uploads)
            if token != self._token:
                if not re.fullmatch(r"\d+:[\w-]+", token):
                    raise ApiError(404, "Not Found")
                raise ApiError(401, "Unauthorized")
            if method_raw.lower() not in self._method_names:
                raise ApiError(404, "Not Found")
            with self._lock:
                injected = self._pop_failure(name, params)
            if injected is not None:
                raise injected
            if long_poll:
                result = await self._get_updates(params)
            else:
                with self._lock:
                    result = self._handlers[name.lower()](params, uploads)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except asyncio.CancelledError:  # the client disconnected
            status = 0
            raise
        except Exception as exc:  # a bug in the fake: make it loud in the bot's logs
            body["description"] = f"Internal Server Error: tests/fakebot failed: {exc!r}"
        finally:
            with self._lock:
                if not long_poll:
                    self._inflight -= 1
                    self._last_activity = time.monotonic()
                if status == 0:
                    status, body = 499, {"description": "client closed the connection"}
                    call["cancelled"] = True
                call["status"] = status
                call["ok"] = status == 200
                if status == 200:
                    call["result"] = body["result"]
                else:
                    call["description"] = body["description"]
                if status == 429:
                    self._count_429 += 1
                self._changed()
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self._token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        with self._lock:
            stored = self._file_paths.get(request.match_info["path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    def _pop_failure(self, name: str, params: JSON | None = None) -> ApiError | None:
        for key in (name.lower(), "*"):
            queue = self._failures.get(key)
            if not queue:
                continue
            for error in list(queue):
                chat = error.only_chat
                if chat is None or str((params or {}).get("chat_id")) == str(chat):
                    queue.remove(error)
                    return error
        return None

    # ------------------------------------------------------------------ helpers for methods

    def _chat(self, p: JSON, key: str = "chat_id") -> _Chat:
        value = p.get(key)
        if value is None or value == "":
            raise _bad(f"{key} is empty")
        if isinstance(value, str):
            name = value.lstrip("@").lower()
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == name:
                    return chat
            raise _bad("chat not found")
        found = self._chats.get(int(value))
        if found is None:
            raise _bad("chat not found")
        return found

    def _check_can_send(self, chat: _Chat) -> None:
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return
        if chat.blocked:
            if chat.type == "group":
                raise ApiError(403, "Forbidden: bot was kicked from the group chat")
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        bot_status = chat.members.get(self._bot_user["id"], {}).get("status")
        if chat.left or bot_status in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if bot_status == "restricted" and not chat.members[self._bot_user["id"]].get(
            "can_send_messages"
        ):
            raise _bad("not enough rights to send text messages to the chat")

    def _format(
        self, text: Any, parse_mode: Any, entities: Any, *, entities_field: str = "entities"
    ) -> ParsedText:
        """Visible text and entities for a text/caption, or Telegram's 400 for bad markup."""
        source = "" if text is None else str(text)
        mode = str(parse_mode or "").strip()
        if mode.lower() == "html":
            try:
                parsed = parse_html(source, strict=self.strict_html)
            except HtmlParseError as exc:
                raise ApiError(400, exc.description) from None
        elif mode.lower() in ("markdownv2", "markdown"):
            # Not validated: the bot uses HTML. Escapes are removed so the text reads right.
            parsed = ParsedText(re.sub(r"\\(.)", r"\1", source))
        elif mode:
            raise _bad("unsupported parse_mode")
        else:
            if entities is not None and not isinstance(entities, list):
                raise _bad(f"can't parse {entities_field} JSON object")
            parsed = ParsedText(source, sorted(entities or [], key=entity_order))
        return trim(parsed)

    def _text(self, p: JSON) -> ParsedText:
        parsed = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        if not parsed.text:
            raise _bad("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise _bad("message is too long")
        return parsed

    def _caption(self, p: JSON) -> ParsedText:
        parsed = self._format(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            entities_field="caption_entities",
        )
        if utf16_len(parsed.text) > MAX_CAPTION:
            raise _bad("message caption is too long")
        return parsed

    def _markup(self, markup: Any, *, inline_only: bool = False) -> JSON | None:
        """Validate reply_markup like Telegram; returns what a Message echoes (inline only)."""
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            count = 0
            for row in rows:
                for button in row:
                    count += 1
                    _check_inline_button(button)
            if count > 100:
                raise _bad("reply markup is too long")
            if count == 0:
                return None
            return {"inline_keyboard": copy.deepcopy(rows)}
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('can\'t parse keyboard: field "keyboard" must be an Array')
            for row in rows:
                for button in row:
                    label = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(label, str) or not label:
                        raise _bad("can't parse keyboard button: Text must be non-empty")
            return None
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: _Chat, p: JSON) -> JSON | None:
        params = p.get("reply_parameters")
        if params is None and p.get("reply_to_message_id") is not None:
            params = {"message_id": p["reply_to_message_id"]}
        if params is None:
            return None
        if not isinstance(params, dict) or "message_id" not in params:
            raise _bad("can't parse reply parameters JSON object")
        target_chat = chat.id
        if params.get("chat_id") is not None:
            target_chat = self._chat(params).id
        target = self._history.get((target_chat, int(params["message_id"])))
        if target is None or target.get("_deleted"):
            if params.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return _public(target, drop_reply=True)

    def _flood_check(self, chat: _Chat) -> None:
        """Refuse a send with 429 if it would exceed a flood window; count it otherwise."""
        limits = self._flood
        if not limits.enabled:
            return
        now = self._clock()
        waits: list[float] = []
        per_chat = self._flood_chat.setdefault(chat.id, deque())
        if chat.type == "private":
            window, limit = 1.0, limits.private_per_second
        else:
            window, limit = 60.0, limits.group_per_minute
        for times, span, cap in (
            (self._flood_global, 1.0, limits.global_per_second),
            (per_chat, window, limit),
        ):
            while times and times[0] <= now - span:
                times.popleft()
            if cap is not None and len(times) >= cap:
                waits.append(times[len(times) - cap] + span - now)
        if waits:
            raise flood_error(max(1, math.ceil(max(waits))))
        self._flood_global.append(now)
        per_chat.append(now)

    def _new_message(self, chat: _Chat, sender: JSON, content: JSON) -> JSON:
        """Store a new message in ``chat`` (ids increase per chat) and return it."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg: JSON = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": chat.as_json(),
            "date": int(time.time()),
        }
        msg.update({k: v for k, v in content.items() if v is not None})
        self._history[(chat.id, message_id)] = msg
        return msg

    def _record(self, method: str, chat: _Chat, msg: JSON, p: JSON, raw_markup: Any) -> JSON:
        """Remember a message the bot sent so tests can read and wait for it."""
        self._seq += 1
        record: JSON = {
            "seq": self._seq,
            "version": self._seq,
            "chat_id": chat.id,
            "message_id": msg["message_id"],
            "method": method,
            "time": time.time(),
            "date": msg["date"],
            "kind": _kind(msg),
            "text": msg.get("text", msg.get("caption", "")),
            "raw_text": p.get("text", p.get("caption")),
            "parse_mode": p.get("parse_mode"),
            "entities": msg.get("entities", msg.get("caption_entities", [])),
            "caption": msg.get("caption"),
            "reply_markup": copy.deepcopy(raw_markup),
            "reply_to": (msg.get("reply_to_message") or {}).get("message_id"),
            "edits": 0,
            "history": [],
            "deleted": False,
            "params": _loggable(p, {}),
            "message": msg,
        }
        for kind in _MEDIA_KINDS:
            if kind in msg:
                record[kind] = msg[kind]
        self._records.append(record)
        self._record_index[(chat.id, msg["message_id"])] = record
        self._notify_listeners(record)
        return record

    def _touch(self, record: JSON) -> None:
        self._seq += 1
        record["version"] = self._seq
        self._notify_listeners(record)

    def _notify_listeners(self, record: JSON) -> None:
        for callback in list(self._listeners):
            with contextlib.suppress(Exception):  # a listener must not break the server
                callback(_public_record(record))

    def _bot_record(self, p: JSON, *, action: str) -> tuple[_Chat, JSON]:
        """Find the bot's message named by chat_id + message_id for an edit."""
        if p.get("inline_message_id"):
            raise _bad(f"message to {action} not found")
        chat = self._chat(p)
        if p.get("message_id") is None:
            raise _bad("message identifier is not specified")
        key = (chat.id, int(p["message_id"]))
        record = self._record_index.get(key)
        if record is None or record["deleted"]:
            msg = self._history.get(key)
            if msg is not None and not msg.get("_deleted"):
                raise _bad(f"message can't be {action}ed")
            raise _bad(f"message to {action} not found")
        return chat, record

    def _store_file(
        self,
        kind: str,
        data: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        **meta: int,
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        digest = hashlib.sha1(data + kind.encode()).hexdigest()
        unique = "AgAD" + digest[:14]
        file_id = f"{_FILE_PREFIX.get(kind, 'BQAC')}AgIAAxkBAAI{n:05d}{digest[14:30]}"
        if mime_type in (None, "", "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        if not mime_type and kind in _DEFAULT_MIME:
            mime_type = _DEFAULT_MIME[kind]
        ext = ""
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        elif mime_type:
            ext = (mimetypes.guess_extension(mime_type) or ".bin").lstrip(".")
        path = f"{_FOLDERS.get(kind, 'documents')}/file_{n}.{ext or 'bin'}"
        stored = StoredFile(file_id, unique, kind, data, file_name, mime_type, path, **meta)
        self._files[file_id] = stored
        self._file_paths[path] = stored
        return stored

    def _media_object(self, stored: StoredFile, kind: str) -> Any:
        """The Bot API object (or PhotoSize list) describing a stored file."""
        base: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if kind == "photo":
            sizes: list[JSON] = []
            w, h = stored.width or 1, stored.height or 1
            for side in (90, 320, 800):
                if max(w, h) > side:
                    scale = side / max(w, h)
                    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
                    thumb = self._thumbnail(stored, side, tw, th)
                    sizes.append(
                        {
                            "file_id": thumb.file_id,
                            "file_unique_id": thumb.file_unique_id,
                            "file_size": thumb.size,
                            "width": tw,
                            "height": th,
                        }
                    )
            sizes.append({**base, "file_size": stored.size, "width": w, "height": h})
            return sizes
        if kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": stored.width or 512,
                "height": stored.height or 512,
                "is_animated": False,
                "is_video": False,
                "emoji": stored.file_name or "👍",
                "file_size": stored.size,
            }
        out = dict(base)
        if kind in ("video", "animation"):
            out.update(width=stored.width or 640, height=stored.height or 360)
        if kind in ("voice", "audio", "video", "animation"):
            out["duration"] = stored.duration
        if stored.file_name and kind != "voice":
            out["file_name"] = stored.file_name
        if stored.mime_type:
            out["mime_type"] = stored.mime_type
        out["file_size"] = stored.size
        return out

    def _thumbnail(self, stored: StoredFile, side: int, width: int, height: int) -> StoredFile:
        key = f"{stored.file_id}~{side}"
        existing = self._files.get(key)
        if existing is not None:
            return existing
        # A stand-in for the resized image: same bytes, its own ids and a size to match.
        thumb = StoredFile(
            key,
            stored.file_unique_id + f"{side}",
            "photo",
            stored.data,
            None,
            stored.mime_type,
            stored.file_path.replace("file_", f"thumb{side}_"),
            width,
            height,
        )
        self._files[key] = thumb
        self._file_paths[thumb.file_path] = thumb
        return thumb

    def _input_file(self, kind: str, p: JSON, uploads: dict[str, _Upload]) -> StoredFile:
        """Resolve the file a send* call names: an upload, attach://, a file_id or a URL."""
        value = p.get(kind)
        upload = uploads.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f'can\'t find attached file "{value[len("attach://") :]}"')
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            if len(upload.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            meta: dict[str, int] = {}
            name = upload.filename
            if kind == "photo":
                size = image_size(upload.data)
                if size is None:
                    raise _bad("IMAGE_PROCESS_FAILED")
                meta = {"width": size[0], "height": size[1]}
                name = None
            elif kind in ("voice", "audio", "video", "animation"):
                meta = {"duration": int(p.get("duration") or 0)}
                if kind in ("video", "animation"):
                    meta.update(width=int(p.get("width") or 0), height=int(p.get("height") or 0))
            elif kind == "sticker":
                name = str(p.get("emoji") or "👍")
            return self._store_file(kind, upload.data, name, upload.content_type, **meta)
        if not value:
            raise _bad(f"there is no {kind} in the request")
        value = str(value)
        stored = self._files.get(value)
        if stored is not None:
            compatible = {stored.kind} | (
                {"document", "animation"} if stored.kind in ("document", "animation") else set()
            )
            if kind not in compatible:
                raise _bad(f"can't use file of type {stored.kind.title()} as {kind.title()}")
            return stored
        if urlsplit(value).scheme in ("http", "https"):
            # Not downloaded: the file is recorded by name with no bytes.
            file_name = urlsplit(value).path.rsplit("/", 1)[-1] or None
            meta = {"width": 800, "height": 600} if kind == "photo" else {}
            return self._store_file(kind, b"", file_name, None, **meta)
        raise _bad("wrong file identifier/HTTP URL specified")

    def _send(self, method: str, chat: _Chat, p: JSON, content: JSON) -> JSON:
        """Common tail of every send: markup, reply target, flood control, store, record."""
        raw_markup = p.get("reply_markup")
        markup = self._markup(raw_markup)
        reply = self._reply_target(chat, p)
        self._flood_check(chat)
        content = dict(content)
        content["reply_to_message"] = reply
        if p.get("message_thread_id") is not None and chat.type == "supergroup":
            content["message_thread_id"] = p["message_thread_id"]
        if p.get("protect_content"):
            content["has_protected_content"] = True
        content["reply_markup"] = markup
        msg = self._new_message(chat, self._bot_user, content)
        self._record(method, chat, msg, p, raw_markup)
        self._changed()
        return _public(msg)

    def _member(self, chat: _Chat, user_id: int) -> JSON:
        if user_id == self._bot_user["id"]:
            user = self._bot_user
            entry = chat.members.get(user_id, {"status": "administrator"})
        else:
            known = self._users.get(user_id)
            if known is None:
                raise _bad("user not found")
            user = known
            entry = chat.members.get(user_id, {"status": "member"})
            if chat.type == "private":
                entry = {"status": "member"} if user_id == chat.id else {"status": "left"}
        status = entry["status"]
        extras = {k: v for k, v in entry.items() if k != "status"}
        return member_json(user, status, extras)

    def _push_update(self, kind: str, payload: JSON) -> JSON:
        """Queue an update (lock held); returns it."""
        update: JSON = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._pending.append(update)
        self._last_activity = time.monotonic()
        self._changed(updates=True)
        return copy.deepcopy(update)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = -offset
            while len(self._pending) > keep:
                self._pending.popleft()
            return
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()

    def _deliverable(self) -> list[JSON]:
        """Pending updates the bot asked for; others are dropped as Telegram drops them."""
        kept: deque[JSON] = deque()
        for update in self._pending:
            kinds = set(update) - {"update_id"}
            if kinds & self._allowed_updates or not kinds:
                kept.append(update)
        self._pending = kept
        return list(kept)

    # ------------------------------------------------------------------ Bot API methods

    def _m_getMe(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return copy.deepcopy(self._bot_user)

    def _m_logOut(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return True

    def _m_close(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return True

    async def _get_updates(self, p: JSON) -> list[JSON]:
        loop = asyncio.get_running_loop()
        timeout = max(0.0, float(p.get("timeout") or 0))
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        offset = p.get("offset")
        with self._lock:
            if self._webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            allowed = p.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_KINDS
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_pollers()  # an older long poll now ends with 409, as on Telegram
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, POLL_CONFLICT)
                if offset is not None:
                    self._confirm(int(offset))
                result = self._deliverable()[:limit]
                remaining = deadline - loop.time()
                if result or remaining <= 0 or self._stopping:
                    if result:
                        self._last_activity = time.monotonic()
                    self._changed()
                    return copy.deepcopy(result)
                event = asyncio.Event()
                self._pollers.add(event)
                self._waiting_pollers += 1
                self._changed()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._pollers.discard(event)
                with self._lock:
                    self._waiting_pollers -= 1

    def _m_setWebhook(self, p: JSON, up: dict[str, _Upload]) -> Any:
        url = str(p.get("url") or "")
        if not url:
            self._webhook = None
            return True
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("bad webhook: secret token contains unallowed characters")
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_KINDS
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = _Webhook(
            url, str(secret) if secret else None, int(p.get("max_connections") or 40)
        )
        self._changed(updates=True)
        return True

    def _m_deleteWebhook(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _m_getWebhookInfo(self, p: JSON, up: dict[str, _Upload]) -> Any:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._deliverable()),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if hook.last_error_date:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self._allowed_updates != DEFAULT_UPDATE_KINDS:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _webhook_loop(self) -> None:
        """Deliver pending updates to the webhook one by one, in order, retrying failures."""
        while True:
            event = asyncio.Event()
            with self._lock:
                hook = self._webhook
                pending = self._deliverable() if hook is not None else []
                if hook is None or not pending:
                    self._pollers.add(event)
                else:
                    self._webhook_busy = True
            if hook is None or not pending:
                try:
                    await event.wait()
                finally:
                    self._pollers.discard(event)
                continue
            update = copy.deepcopy(pending[0])
            error = await self._post_update(hook, update)
            with self._lock:
                self._webhook_busy = False
                if error is None:
                    self._confirm(update["update_id"] + 1)
                    self._last_activity = time.monotonic()
                else:
                    hook.last_error_date = int(time.time())
                    hook.last_error_message = error
                self._changed()
            if error is not None:
                await asyncio.sleep(self.webhook_retry_delay)

    async def _post_update(self, hook: _Webhook, update: JSON) -> str | None:
        """POST one update as Telegram does; returns the error getWebhookInfo would show."""
        headers = {}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        assert self._session is not None
        try:
            async with self._session.post(hook.url, json=update, headers=headers) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    return f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"
        return None

    def _m_sendMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        parsed = self._text(p)
        content: JSON = {"text": parsed.text, "entities": parsed.entities or None}
        return self._send("sendMessage", chat, p, content)

    def _send_media(self, method: str, kind: str, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        caption = self._caption(p) if kind != "sticker" else ParsedText("")
        stored = self._input_file(kind, p, up)
        content: JSON = {kind: self._media_object(stored, kind)}
        if kind == "animation":
            content["document"] = self._media_object(stored, "document")
        if caption.text:
            content["caption"] = caption.text
            content["caption_entities"] = caption.entities or None
        if p.get("has_spoiler") and kind in ("photo", "video", "animation"):
            content["has_media_spoiler"] = True
        return self._send(method, chat, p, content)

    def _m_sendDocument(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendDocument", "document", p, up)

    def _m_sendPhoto(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendPhoto", "photo", p, up)

    def _m_sendVoice(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendVoice", "voice", p, up)

    def _m_sendAudio(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendAudio", "audio", p, up)

    def _m_sendVideo(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendVideo", "video", p, up)

    def _m_sendAnimation(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendAnimation", "animation", p, up)

    def _m_sendSticker(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return self._send_media("sendSticker", "sticker", p, up)

    def _m_sendLocation(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        try:
            lat, lon = float(p["latitude"]), float(p["longitude"])
        except (KeyError, TypeError, ValueError):
            raise _bad("wrong latitude or longitude specified") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _bad("wrong latitude or longitude specified")
        return self._send(
            "sendLocation", chat, p, {"location": {"latitude": lat, "longitude": lon}}
        )

    def _copy_source(self, p: JSON, action: str) -> JSON:
        source_chat = self._chat(p, "from_chat_id")
        if p.get("message_id") is None:
            raise _bad("message identifier is not specified")
        source = self._history.get((source_chat.id, int(p["message_id"])))
        if source is None or source.get("_deleted"):
            raise _bad(f"message to {action} not found")
        return source

    def _m_forwardMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        source = self._copy_source(p, "forward")
        content = {k: copy.deepcopy(source[k]) for k in _CONTENT_KEYS if k in source}
        content["forward_origin"] = source.get("forward_origin") or {
            "type": "user",
            "sender_user": copy.deepcopy(source["from"]),
            "date": source["date"],
        }
        return self._send("forwardMessage", chat, {**p, "reply_markup": None}, content)

    def _m_copyMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        source = self._copy_source(p, "copy")
        content = {k: copy.deepcopy(source[k]) for k in _CONTENT_KEYS if k in source}
        if "caption" in p and "text" not in source:
            caption = self._caption(p)
            content["caption"] = caption.text or None
            content["caption_entities"] = caption.entities or None
        sent = self._send("copyMessage", chat, p, content)
        return {"message_id": sent["message_id"]}

    def _m_editMessageText(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat, record = self._bot_record(p, action="edit")
        self._check_can_send(chat)
        msg = record["message"]
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        parsed = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        if not parsed.text:
            raise _bad("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if (
            parsed.text == msg["text"]
            and parsed.entities == msg.get("entities", [])
            and markup == msg.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        record["history"].append(record["text"])
        msg["text"] = parsed.text
        _set_or_drop(msg, "entities", parsed.entities or None)
        _set_or_drop(msg, "reply_markup", markup)
        return self._edited(record, p, text=parsed.text, entities=parsed.entities)

    def _m_editMessageCaption(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat, record = self._bot_record(p, action="edit")
        self._check_can_send(chat)
        msg = record["message"]
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        parsed = self._caption(p)
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if (
            parsed.text == msg.get("caption", "")
            and parsed.entities == msg.get("caption_entities", [])
            and markup == msg.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        record["history"].append(record["text"])
        _set_or_drop(msg, "caption", parsed.text or None)
        _set_or_drop(msg, "caption_entities", parsed.entities or None)
        _set_or_drop(msg, "reply_markup", markup)
        record["caption"] = parsed.text or None
        return self._edited(record, p, text=parsed.text, entities=parsed.entities)

    def _m_editMessageReplyMarkup(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat, record = self._bot_record(p, action="edit")
        self._check_can_send(chat)
        msg = record["message"]
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        _set_or_drop(msg, "reply_markup", markup)
        return self._edited(record, p)

    def _edited(
        self, record: JSON, p: JSON, *, text: str | None = None, entities: list[JSON] | None = None
    ) -> JSON:
        msg = record["message"]
        msg["edit_date"] = int(time.time())
        if text is not None:
            record["text"] = text
            record["raw_text"] = p.get("text", p.get("caption"))
            record["parse_mode"] = p.get("parse_mode")
            record["entities"] = entities or []
        record["reply_markup"] = copy.deepcopy(p.get("reply_markup"))
        record["edits"] += 1
        self._touch(record)
        self._changed()
        return _public(msg)

    def _m_deleteMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        if p.get("message_id") is None:
            raise _bad("message identifier is not specified")
        key = (chat.id, int(p["message_id"]))
        msg = self._history.get(key)
        if msg is None or msg.get("_deleted"):
            raise _bad("message to delete not found")
        bot_id = self._bot_user["id"]
        bot_status = chat.members.get(bot_id, {"status": "administrator"})["status"]
        if (
            chat.type != "private"
            and msg["from"]["id"] != bot_id
            and bot_status not in ("administrator", "creator")
        ):
            raise _bad("message can't be deleted")
        self._delete(key)
        return True

    def _m_deleteMessages(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a non-empty list of at most 100 identifiers")
        for message_id in ids:
            if (chat.id, int(message_id)) in self._history:
                self._delete((chat.id, int(message_id)))
        return True

    def _delete(self, key: tuple[int, int]) -> None:
        self._history[key]["_deleted"] = True
        record = self._record_index.get(key)
        if record is not None:
            record["deleted"] = True  # not a new version: waits look for sends and edits
            self._notify_listeners(record)
        self._changed()

    def _m_answerCallbackQuery(self, p: JSON, up: dict[str, _Upload]) -> Any:
        query_id = str(p.get("callback_query_id") or "")
        query = self._callbacks.get(query_id)
        too_old = (
            query is not None
            and self.callback_timeout is not None
            and self._clock() - query["clock"] > self.callback_timeout
        )
        if query is None or query["answered"] or too_old:
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        self._answers.append(
            {
                "callback_query_id": query_id,
                "text": text,
                "show_alert": bool(p.get("show_alert", False)),
                "url": p.get("url"),
                "cache_time": p.get("cache_time"),
                "user_id": query["user_id"],
                "data": query["data"],
                "time": time.time(),
            }
        )
        self._changed()
        return True

    def _m_sendChatAction(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        if p.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _commands_key(self, p: JSON) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in (
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            raise _bad("can't parse BotCommandScope JSON object")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            scope = {**scope, "chat_id": self._chat(scope).id}
        language = str(p.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    def _m_setMyCommands(self, p: JSON, up: dict[str, _Upload]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        clean: list[JSON] = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(cmd.get("command") or "").lstrip("/")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(cmd.get("description") or "").strip()
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        self._commands[self._commands_key(p)] = clean
        return True

    def _m_getMyCommands(self, p: JSON, up: dict[str, _Upload]) -> Any:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    def _m_deleteMyCommands(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _m_setChatMenuButton(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat_id = self._chat(p).id if p.get("chat_id") is not None else None
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat_id = self._chat(p).id if p.get("chat_id") is not None else None
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        return copy.deepcopy(button or {"type": "commands"})

    def _m_setMyDescription(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._descriptions["description"] = str(p.get("description") or "")
        return True

    def _m_setMyShortDescription(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._descriptions["short_description"] = str(p.get("short_description") or "")
        return True

    def _m_setMyName(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._descriptions["name"] = str(p.get("name") or "")
        return True

    def _m_getChat(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        info = chat.as_json()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _m_getChatMember(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        if p.get("user_id") is None:
            raise _bad("user_id is empty")
        return self._member(chat, int(p["user_id"]))

    def _m_getChatAdministrators(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        ids = [self._bot_user["id"], *chat.members]
        admins = [self._member(chat, uid) for uid in dict.fromkeys(ids)]
        return [m for m in admins if m["status"] in ("creator", "administrator")]

    def _m_getChatMemberCount(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        if chat.type == "private":
            return 2
        present = [m for m in chat.members.values() if m["status"] not in ("left", "kicked")]
        return len(present) + (0 if chat.left or chat.blocked else 1)

    def _m_getFile(self, p: JSON, up: dict[str, _Upload]) -> Any:
        stored = self._files.get(str(p.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _m_leaveChat(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        if chat.left or chat.blocked:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        old = self._member(chat, self._bot_user["id"])
        chat.left = True
        chat.members[self._bot_user["id"]] = {"status": "left"}
        self._push_update(
            "my_chat_member",
            {
                "chat": chat.as_json(),
                "from": copy.deepcopy(self._bot_user),
                "date": int(time.time()),
                "old_chat_member": old,
                "new_chat_member": member_json(self._bot_user, "left", {}),
            },
        )
        return True

    def _m_pinChatMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        msg = self._history.get((chat.id, int(p.get("message_id") or 0)))
        if msg is None or msg.get("_deleted"):
            raise _bad("message to pin not found")
        return True

    def _m_unpinChatMessage(self, p: JSON, up: dict[str, _Upload]) -> Any:
        self._check_can_send(self._chat(p))
        return True

    # ------------------------------------------------------------------ control API: setup

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "zh-hans",
        *,
        started: bool = True,
    ) -> JSON:
        """Register a user and their private chat; ``started=False``: bot may not write first."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._lock:
            self._users[user_id] = user
            chat = self._chats.get(user_id)
            if chat is None:
                chat = _Chat(user_id, "private")
                self._chats[user_id] = chat
            chat.first_name, chat.last_name, chat.username = first_name, last_name, username
            chat.started = started
            return copy.deepcopy(user)

    def add_group(
        self, chat_id: int, title: str, type: str = "supergroup", *, username: str | None = None
    ) -> JSON:
        """Register a group (negative id) the bot is in; returns its Chat object."""
        if chat_id >= 0:
            raise ValueError("group and supergroup ids are negative")
        if type not in ("group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {type!r}")
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = _Chat(chat_id, type)
                self._chats[chat_id] = chat
            chat.type, chat.title, chat.username = type, title, username
            return chat.as_json()

    def set_member_status(self, chat_id: int, user_id: int, status: str, **fields: Any) -> JSON:
        """Set what getChatMember says for user_id in chat_id (extra ChatMember fields allowed)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        with self._lock:
            chat = self._known_chat(chat_id)
            if user_id != self._bot_user["id"] and user_id not in self._users:
                self.add_user(user_id, f"用户{user_id}")
            chat.members[user_id] = {"status": status, **fields}
            return self._member(chat, user_id)

    def block(self, chat_id: int, *, notify: bool = False) -> None:
        """The user blocks the bot / the bot is kicked: sends now get 403.

        ``notify=True`` also injects the my_chat_member update Telegram sends.
        """
        with self._lock:
            chat = self._known_chat(chat_id)
            old = self._member(chat, self._bot_user["id"])
            chat.blocked = True
            if chat.type != "private":
                chat.members[self._bot_user["id"]] = {"status": "kicked", "until_date": 0}
            if notify:
                actor = self._users.get(chat_id) if chat.type == "private" else None
                self._push_update(
                    "my_chat_member",
                    {
                        "chat": chat.as_json(),
                        "from": copy.deepcopy(actor or self._any_user()),
                        "date": int(time.time()),
                        "old_chat_member": old,
                        "new_chat_member": member_json(self._bot_user, "kicked", {"until_date": 0}),
                    },
                )
            self._changed()

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        with self._lock:
            chat = self._known_chat(chat_id)
            chat.blocked = False
            chat.left = False
            if chat.type != "private":
                chat.members.pop(self._bot_user["id"], None)
            self._changed()

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        """Turn flood control on/off at runtime (windows restart empty)."""
        with self._lock:
            self._flood = limits or FloodLimits()
            self._flood_global.clear()
            self._flood_chat.clear()

    def fail_next(
        self,
        method: str,
        code: int,
        description: str | None = None,
        retry_after: int | None = None,
        *,
        chat_id: int | None = None,
    ) -> None:
        """Make the next call of ``method`` ("*" = any) fail with this error, without effect;
        with ``chat_id``, the next such call to that chat only."""
        if description is None:
            if code == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
            else:
                description = {
                    400: "Bad Request",
                    403: "Forbidden",
                    500: "Internal Server Error",
                }.get(code, "Error")
        params = {"retry_after": retry_after} if retry_after is not None else None
        if code == 429 and params is None:
            params = {"retry_after": 1}
        with self._lock:
            error = ApiError(code, description, params)
            error.only_chat = chat_id
            self._failures.setdefault(method.lower(), deque()).append(error)

    def add_file(
        self,
        data: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        kind: str = "document",
    ) -> StoredFile:
        """Store a file as if a user had sent it; its file_id works with getFile and send*."""
        with self._lock:
            meta: dict[str, int] = {}
            if kind == "photo":
                size = image_size(data)
                if size is None:
                    raise ValueError("photo bytes are not a PNG/JPEG/GIF/WEBP/BMP image")
                meta = {"width": size[0], "height": size[1]}
            return self._store_file(kind, data, file_name, mime_type, **meta)

    # ------------------------------------------------------------------ control API: users act

    def _known_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"chat {chat_id} is not registered: call add_user/add_group first")
        return chat

    def _any_user(self) -> JSON:
        return next(iter(self._users.values()), {"id": 1, "is_bot": False, "first_name": "?"})

    def _user_chat(self, user_id: int, chat_id: int | None) -> tuple[JSON, _Chat]:
        user = self._users.get(user_id)
        if user is None:
            self.add_user(user_id, f"用户{user_id}")
            user = self._users[user_id]
        if chat_id is None or chat_id == user_id:
            chat = self._chats[user_id]
            chat.started = True
            chat.blocked = False  # writing to a bot unblocks it
        else:
            chat = self._known_chat(chat_id)
            chat.members.setdefault(user_id, {"status": "member"})
        return user, chat

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: JSON,
        *,
        reply_to: Any = None,
        forward_from: Any = None,
    ) -> JSON:
        with self._lock:
            user, chat = self._user_chat(user_id, chat_id)
            extra: JSON = {}
            if reply_to is not None:
                target_id = reply_to["message_id"] if isinstance(reply_to, dict) else int(reply_to)
                target = self._history.get((chat.id, target_id))
                if target is None:
                    raise KeyError(f"no message {target_id} in chat {chat.id}")
                extra["reply_to_message"] = _public(target, drop_reply=True)
            if forward_from is not None:
                extra["forward_origin"] = self._origin(forward_from)
            msg = self._new_message(chat, user, {**extra, **content})
            self._push_update("message", _public(msg))
            return _public(msg)

    def _origin(self, source: Any) -> JSON:
        date = int(time.time()) - 60
        if isinstance(source, dict):
            return copy.deepcopy(source)
        if isinstance(source, str):
            return {"type": "hidden_user", "sender_user_name": source, "date": date}
        source_id = int(source)
        if source_id < 0:
            chat = self._known_chat(source_id)
            return {"type": "chat", "sender_chat": chat.as_json(), "date": date}
        user = self._users.get(source_id) or {
            "id": source_id,
            "is_bot": False,
            "first_name": f"用户{source_id}",
        }
        return {"type": "user", "sender_user": copy.deepcopy(user), "date": date}

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        reply_to: int | JSON | None = None,
        forward_from: int | str | JSON | None = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """The user writes ``text`` (private chat unless chat_id); commands get entities."""
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        found = detect_entities(text) if entities is None else entities
        content: JSON = {"text": text, "entities": found or None}
        return self._user_message(
            user_id, chat_id, content, reply_to=reply_to, forward_from=forward_from
        )

    def send_sticker(self, user_id: int, emoji: str = "👍", chat_id: int | None = None) -> JSON:
        """The user sends a sticker."""
        with self._lock:
            stored = self._store_file(
                "sticker", _png(64, 64), emoji, "image/webp", width=512, height=512
            )
            obj = self._media_object(stored, "sticker")
        return self._user_message(user_id, chat_id, {"sticker": obj})

    def send_animation(
        self, user_id: int, caption: str | None = None, chat_id: int | None = None
    ) -> JSON:
        """The user sends a GIF (Telegram delivers it as animation + document)."""
        with self._lock:
            stored = self._store_file(
                "animation",
                b"GIF89a" + bytes(64),
                "funny.gif.mp4",
                "video/mp4",
                width=320,
                height=240,
                duration=3,
            )
            content: JSON = {
                "animation": self._media_object(stored, "animation"),
                "document": self._media_object(stored, "document"),
            }
        content.update(_user_caption(caption))
        return self._user_message(user_id, chat_id, content)

    def send_photo(
        self,
        user_id: int,
        caption: str | None = None,
        chat_id: int | None = None,
        *,
        data: bytes | None = None,
    ) -> JSON:
        """The user sends a photo (a generated 640x480 PNG unless ``data`` is given)."""
        with self._lock:
            raw = data if data is not None else _png(640, 480)
            size = image_size(raw)
            if size is None:
                raise ValueError("photo bytes are not an image")
            stored = self._store_file("photo", raw, None, None, width=size[0], height=size[1])
            content: JSON = {"photo": self._media_object(stored, "photo")}
        content.update(_user_caption(caption))
        return self._user_message(user_id, chat_id, content)

    def send_document(
        self,
        user_id: int,
        data: bytes = b"%PDF-1.4\n%fake\n",
        file_name: str = "材料.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        """The user sends a file."""
        with self._lock:
            stored = self._store_file("document", data, file_name, mime_type)
            content: JSON = {"document": self._media_object(stored, "document")}
        content.update(_user_caption(caption))
        return self._user_message(user_id, chat_id, content)

    def send_voice(
        self,
        user_id: int,
        duration: int = 5,
        chat_id: int | None = None,
        *,
        data: bytes | None = None,
    ) -> JSON:
        """The user sends a voice message."""
        with self._lock:
            raw = data if data is not None else b"OggS" + bytes(256)
            stored = self._store_file("voice", raw, None, "audio/ogg", duration=duration)
            content: JSON = {"voice": self._media_object(stored, "voice")}
        return self._user_message(user_id, chat_id, content)

    def send_location(
        self, user_id: int, latitude: float, longitude: float, chat_id: int | None = None
    ) -> JSON:
        """The user shares a location."""
        content: JSON = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._user_message(user_id, chat_id, content)

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        """The user shares their own contact (as the "share phone" button does)."""
        with self._lock:
            name = first_name or self._users.get(user_id, {}).get("first_name", "联系人")
        contact: JSON = {"phone_number": phone_number, "first_name": name, "user_id": user_id}
        return self._user_message(user_id, chat_id, {"contact": contact})

    def edit_text(
        self, user_id: int, message_id: int, new_text: str, chat_id: int | None = None
    ) -> JSON:
        """The user edits their message: an ``edited_message`` update."""
        with self._lock:
            _, chat = self._user_chat(user_id, chat_id)
            msg = self._history.get((chat.id, message_id))
            if msg is None or msg["from"]["id"] != user_id:
                raise KeyError(f"user {user_id} has no message {message_id} in chat {chat.id}")
            msg["text"] = new_text
            _set_or_drop(msg, "entities", detect_entities(new_text) or None)
            msg["edit_date"] = int(time.time())
            self._push_update("edited_message", _public(msg))
            return _public(msg)

    def press(
        self,
        user_id: int,
        message: JSON | int,
        data: str | None = None,
        *,
        label: str | None = None,
        chat_id: int | None = None,
        check: bool = True,
    ) -> str:
        """The user presses an inline button on a bot message; returns the callback query id.

        ``message`` is a record from :meth:`messages`/:meth:`wait_for_message`, a Message dict
        or a message id (in chat_id, default the user's private chat). Give the button's
        callback ``data`` or a substring of its ``label``. With ``check`` the button must exist.
        """
        with self._lock:
            key = self._message_key(message, chat_id if chat_id is not None else user_id)
            user, _ = self._user_chat(user_id, key[0])
            record = self._record_index.get(key)
            if record is None or record["deleted"]:
                raise KeyError(f"the bot has no (undeleted) message {key[1]} in chat {key[0]}")
            msg = record["message"]
            buttons = [
                b for row in (msg.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
            ]
            if label is not None:
                matches = [
                    b for b in buttons if label in b.get("text", "") and "callback_data" in b
                ]
                if not matches:
                    raise KeyError(f"no button labelled {label!r}; buttons: {_labels(buttons)}")
                data = str(matches[0]["callback_data"])
            if data is None:
                raise ValueError("give data or label")
            if check and not any(b.get("callback_data") == data for b in buttons):
                raise KeyError(
                    f"no button with callback_data {data!r}; buttons: {_labels(buttons)}"
                )
            query_id = str(4_000_000_000_000_000 + self._next_callback_id * 7919)
            self._next_callback_id += 1
            self._callbacks[query_id] = {
                "answered": False,
                "clock": self._clock(),
                "user_id": user_id,
                "data": data,
            }
            chat_instance = str(int(hashlib.sha1(str(key[0]).encode()).hexdigest()[:15], 16))
            self._push_update(
                "callback_query",
                {
                    "id": query_id,
                    "from": copy.deepcopy(user),
                    "message": _public(msg),
                    "chat_instance": chat_instance,
                    "data": data,
                },
            )
            return query_id

    def _message_key(self, message: JSON | int, default_chat: int) -> tuple[int, int]:
        if isinstance(message, int):
            return default_chat, message
        if "chat_id" in message and "seq" in message:
            return int(message["chat_id"]), int(message["message_id"])
        return int(message["chat"]["id"]), int(message["message_id"])

    def inject_raw(self, update: JSON) -> JSON:
        """Queue any update as given (update_id assigned if missing); its chats become known."""
        with self._lock:
            body = {k: v for k, v in update.items() if k != "update_id"}
            if len(body) != 1:
                raise ValueError("an update has exactly one field besides update_id")
            kind, payload = next(iter(body.items()))
            for chat_json in _find_chats(payload):
                if chat_json["id"] not in self._chats:
                    self._chats[chat_json["id"]] = _Chat(
                        chat_json["id"],
                        chat_json.get("type", "private"),
                        chat_json.get("title"),
                        chat_json.get("first_name"),
                        chat_json.get("last_name"),
                        chat_json.get("username"),
                    )
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]))
            return self._push_update(kind, copy.deepcopy(payload))

    def add_bot_to_group(
        self,
        chat_id: int,
        title: str,
        by_user: int,
        *,
        type: str = "supergroup",
        status: str = "member",
        with_service_message: bool = False,
    ) -> JSON:
        """A user adds the bot to a group: a ``my_chat_member`` update (left -> status)."""
        self.add_group(chat_id, title, type)
        with self._lock:
            user, chat = self._user_chat(by_user, chat_id)
            chat.blocked = chat.left = False
            chat.members[self._bot_user["id"]] = {"status": status}
            update = self._push_update(
                "my_chat_member",
                {
                    "chat": chat.as_json(),
                    "from": copy.deepcopy(user),
                    "date": int(time.time()),
                    "old_chat_member": member_json(self._bot_user, "left", {}),
                    "new_chat_member": member_json(self._bot_user, status, {}),
                },
            )
            if with_service_message:
                msg = self._new_message(
                    chat, user, {"new_chat_members": [copy.deepcopy(self._bot_user)]}
                )
                self._push_update("message", _public(msg))
            return update

    def migrate_group(
        self, chat_id: int, new_chat_id: int, by_user: int, *, notify: bool = True
    ) -> None:
        """A group becomes a supergroup with a new id, as Telegram does it: sends to the old id
        get 400 with ``migrate_to_chat_id``; a ``migrate_to_chat_id`` service message in the old
        chat and a ``migrate_from_chat_id`` one in the new chat (unless ``notify`` is False)."""
        with self._lock:
            old = self._known_chat(chat_id)
            user, _ = self._user_chat(by_user, chat_id)
            new = _Chat(new_chat_id, "supergroup", old.title, members=copy.deepcopy(old.members))
            self._chats[new_chat_id] = new
            first = self._new_message(old, user, {"migrate_to_chat_id": new_chat_id})
            old.migrated_to = new_chat_id
            second = self._new_message(new, user, {"migrate_from_chat_id": chat_id})
            if notify:  # False: as if the bot missed the service messages
                self._push_update("message", _public(first))
                self._push_update("message", _public(second))

    def remove_bot_from_group(self, chat_id: int, by_user: int) -> JSON:
        """A user removes the bot: a ``my_chat_member`` update; sends then get 403."""
        with self._lock:
            user, chat = self._user_chat(by_user, chat_id)
            old = self._member(chat, self._bot_user["id"])
            chat.blocked = True
            chat.members[self._bot_user["id"]] = {"status": "kicked", "until_date": 0}
            return self._push_update(
                "my_chat_member",
                {
                    "chat": chat.as_json(),
                    "from": copy.deepcopy(user),
                    "date": int(time.time()),
                    "old_chat_member": old,
                    "new_chat_member": member_json(self._bot_user, "kicked", {"until_date": 0}),
                },
            )

    # ------------------------------------------------------------------ control API: reading

    def messages(self, chat_id: int | None = None, *, include_deleted: bool = True) -> list[JSON]:
        """Everything the bot sent (current text after edits), oldest first.

        Each record: seq, version, chat_id, message_id, method, time, date, kind, text (visible
        text, or the caption), raw_text (as sent), parse_mode, entities, caption, reply_markup
        (as sent, any kind), reply_to, edits, history (earlier texts), deleted, params, message
        (the Bot API Message as it is now) and the media object (document/photo/...) if any.
        """
        with self._lock:
            return [
                _public_record(r)
                for r in self._records
                if (chat_id is None or r["chat_id"] == chat_id)
                and (include_deleted or not r["deleted"])
            ]

    def last_message(self, chat_id: int) -> JSON | None:
        """The bot's latest message in a chat, or None."""
        found = self.messages(chat_id)
        return found[-1] if found else None

    def calls(self, method: str | None = None) -> list[JSON]:
        """Every API call (method, params, time, status, ok, result/description), in order.

        A request whose client disconnected first (a cancelled long poll) has status 499 and
        ``cancelled: True``.
        """
        with self._lock:
            return [
                copy.deepcopy(c)
                for c in self._calls
                if method is None or c["method"].lower() == method.lower()
            ]

    @property
    def callback_answers(self) -> list[JSON]:
        """answerCallbackQuery calls that succeeded (with the pressed data and user_id)."""
        with self._lock:
            return copy.deepcopy(self._answers)

    @property
    def documents(self) -> dict[str, bytes]:
        """Bytes of every stored file (bot uploads and user files) by file_id."""
        with self._lock:
            return {fid: f.data for fid, f in self._files.items() if "~" not in fid}

    def file(self, file_id: str) -> StoredFile:
        """A stored file with its name, MIME type and bytes."""
        with self._lock:
            return copy.copy(self._files[file_id])

    @property
    def count_429(self) -> int:
        """How many 429 responses were sent (flood control and injected ones)."""
        with self._lock:
            return self._count_429

    @property
    def waiting_pollers(self) -> int:
        """Long-poll getUpdates requests currently parked on the server."""
        with self._lock:
            return self._waiting_pollers

    def updates(self, *, pending_only: bool = False) -> list[JSON]:
        """Injected updates (all, or only those the bot has not confirmed yet)."""
        with self._lock:
            return copy.deepcopy(list(self._pending) if pending_only else self._updates)

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands stored for this scope and language."""
        with self._lock:
            key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
            return copy.deepcopy(self._commands.get(key, []))

    def webhook_info(self) -> JSON:
        """What getWebhookInfo would answer."""
        with self._lock:
            return dict(self._m_getWebhookInfo({}, {}))

    def chat(self, chat_id: int) -> JSON:
        """A registered chat's Chat object plus fake-side state (blocked, left, started)."""
        with self._lock:
            chat = self._known_chat(chat_id)
            return {
                **chat.as_json(),
                "blocked": chat.blocked,
                "left": chat.left,
                "started": chat.started,
            }

    def mark(self) -> int:
        """A position in the bot's output: pass as ``since`` to wait only for later changes."""
        with self._lock:
            return self._seq

    # ------------------------------------------------------------------ control API: waiting

    def describe(self) -> str:
        """What the bot did so far (recent messages, failed calls, pending updates)."""
        with self._lock:
            lines = ["bot messages (latest last):"]
            for r in self._records[-15:]:
                state = (
                    " deleted" if r["deleted"] else (f" edited x{r['edits']}" if r["edits"] else "")
                )
                seen = " (seen)" if self._seen.get(r["seq"]) == r["version"] else ""
                lines.append(
                    f"  chat {r['chat_id']} #{r['message_id']} {r['method']}{state}{seen}: "
                    f"{_short(r['text'])} markup={_labels(_buttons(r))}"
                )
            if not self._records:
                lines.append("  (none)")
            failed = [
                c
                for c in self._calls
                if c.get("status") not in (None, 200) and "cancelled" not in c
            ][-8:]
            if failed:
                lines.append("failed calls:")
                lines += [f"  {c['method']} {c['status']} {c.get('description')}" for c in failed]
            lines.append(
                f"unconfirmed updates: {len(self._pending)}; calls in flight: {self._inflight}"
            )
            return "\n".join(lines)

    def _message_check(
        self, chat_id: int, predicate: Callable[[JSON], Any] | None, since: int | None
    ) -> Callable[[], JSON | None]:
        def check() -> JSON | None:
            for r in self._records:
                if r["chat_id"] != chat_id or self._seen.get(r["seq"]) == r["version"]:
                    continue
                if since is not None and r["version"] <= since:
                    continue
                public = _public_record(r)
                if predicate is None or predicate(public):
                    self._seen[r["seq"]] = r["version"]
                    return public
            return None

        return check

    def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[JSON], Any] | None = None,
        timeout: float = 10.0,
        *,
        since: int | None = None,
    ) -> JSON:
        """Block until the bot sent or edited a message in chat_id that the predicate accepts.

        Returns the oldest such message record not yet returned by an earlier wait in its
        current state (an edit makes it new again); ``since`` (from :meth:`mark`) skips older
        output. Raises TimeoutError describing what the bot did. Do not call from the thread
        whose event loop runs the bot: use :meth:`wait_for_message_async` there.
        """
        return self._wait(
            self._message_check(chat_id, predicate, since),
            timeout,
            f"no new bot message in chat {chat_id} matched",
        )

    async def wait_for_message_async(
        self,
        chat_id: int,
        predicate: Callable[[JSON], Any] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for_message
        *,
        since: int | None = None,
    ) -> JSON:
        """:meth:`wait_for_message` for async code (the bot may run in the same loop)."""
        return await self._await(
            self._message_check(chat_id, predicate, since),
            timeout,
            f"no new bot message in chat {chat_id} matched",
        )

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every change); return its value."""
        return self._wait(predicate, timeout, "condition not met")

    def wait_for_outside(
        self, predicate: Callable[[], T], timeout: float = 10.0, poll: float = 0.2
    ) -> T:
        """:meth:`wait_for` for state kept outside the server (a database): re-checked on every
        change and every `poll` seconds."""
        return self._wait(predicate, timeout, "condition not met", poll=poll)

    async def wait_for_async(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for
    ) -> T:
        """:meth:`wait_for` for async code."""
        return await self._await(predicate, timeout, "condition not met")

    def _idle_check(self, quiet: float) -> Callable[[], bool]:
        def check() -> bool:
            return (
                not self._deliverable()
                and self._inflight == 0
                and not self._webhook_busy
                and time.monotonic() - self._last_activity >= quiet
            )

        return check

    def wait_until_idle(self, timeout: float = 10.0, quiet: float = 0.2) -> None:
        """Block until every update is confirmed and no call happened for ``quiet`` seconds."""
        self._wait(self._idle_check(quiet), timeout, "the bot did not go idle", poll=quiet / 4)

    async def wait_until_idle_async(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_until_idle
        quiet: float = 0.2,
    ) -> None:
        """:meth:`wait_until_idle` for async code."""
        await self._await(
            self._idle_check(quiet), timeout, "the bot did not go idle", poll=quiet / 4
        )


# ---------------------------------------------------------------------- module helpers

_FILE_PREFIX = {
    "photo": "AgAC",
    "document": "BQAC",
    "voice": "AwAC",
    "audio": "CQAC",
    "video": "BAAC",
    "animation": "CgAC",
    "sticker": "CAAC",
}


def _coerce(key: str, value: Any) -> Any:
    """Type a parameter as Telegram does: form fields arrive as strings (JSON for objects)."""
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if key == "reply_markup" else key
            raise _bad(f"can't parse {what} JSON object") from None
    if key in ("chat_id", "from_chat_id"):
        return int(value) if re.fullmatch(r"-?\d+", value.strip()) else value
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            raise _bad(f"invalid {key} specified") from None
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            raise _bad(f"invalid {key} specified") from None
    if key in _BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


def _loggable(params: JSON, uploads: dict[str, _Upload]) -> JSON:
    out = copy.deepcopy(params)
    for name, upload in uploads.items():
        out[name] = {"upload": True, "file_name": upload.filename, "size": len(upload.data)}
    return out


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str) or not button["text"]:
        raise _bad("BUTTON_TEXT_INVALID")
    actions = _BUTTON_ACTIONS & set(button)
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = str(button["url"])
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "tg") or (
            parts.scheme != "tg" and not parts.hostname
        ):
            raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _set_or_drop(msg: JSON, key: str, value: Any) -> None:
    if value is None:
        msg.pop(key, None)
    else:
        msg[key] = value


def _public(msg: JSON, *, drop_reply: bool = False) -> JSON:
    """A copy of a stored message without server bookkeeping (fields starting with ``_``)."""
    out = {k: copy.deepcopy(v) for k, v in msg.items() if not k.startswith("_")}
    if drop_reply:
        out.pop("reply_to_message", None)
    return out


def _public_record(record: JSON) -> JSON:
    out = {k: copy.deepcopy(v) for k, v in record.items() if k != "message"}
    out["message"] = _public(record["message"])
    return out


def _kind(msg: JSON) -> str:
    for key in ("text", *_MEDIA_KINDS, "location", "contact"):
        if key in msg:
            return "animation" if key == "document" and "animation" in msg else key
    return "other"


def _buttons(record: JSON) -> list[JSON]:
    markup = record.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b if isinstance(b, dict) else {"text": b} for row in rows for b in row]


def _labels(buttons: Iterable[JSON]) -> str:
    return (
        ", ".join(
            f"{b.get('text')!r}->{b.get('callback_data', b.get('url', ''))!r}" for b in buttons
        )
        or "none"
    )


def _short(text: Any, limit: int = 80) -> str:
    s = repr(text)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _user_caption(caption: str | None) -> JSON:
    if not caption:
        return {}
    out: JSON = {"caption": caption}
    found = detect_entities(caption)
    if found:
        out["caption_entities"] = found
    return out


def _find_chats(payload: Any) -> list[JSON]:
    """Chat objects inside an update payload (so injected raw updates make chats known)."""
    found: list[JSON] = []
    if isinstance(payload, dict):
        chat = payload.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            found.append(chat)
        for value in payload.values():
            if isinstance(value, dict):
                found += _find_chats(value)
    return found


_ENTITY_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]）。，；！？]")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#[^\s#!@$%^&*()+=\-\[\]{};:'\",.<>/?`~]+")),
)


def detect_entities(text: str) -> list[JSON]:
    """Entities Telegram finds in plain text a user sends: commands, URLs, mentions, hashtags."""
    found: list[JSON] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _ENTITY_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: m.start()]),
                    "length": utf16_len(m.group()),
                }
            )
    found.sort(key=entity_order)
    return found


def member_json(user: JSON, status: str, extras: JSON) -> JSON:
    """A ChatMember object with every field python-telegram-bot requires for its status."""
    out: JSON = {"user": copy.deepcopy(user), "status": status}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        out.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_pin_messages=True,
            can_manage_topics=False,
        )
    elif status == "restricted":
        out.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            can_edit_tag=False,
            can_react_to_messages=False,
            until_date=0,
        )
    elif status == "kicked":
        out["until_date"] = 0
    out.update(extras)
    return out


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, BMP, WEBP or JPEG image (None: not an image)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return (w, h) if w and h else None
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return (w, h) if w and h else None
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return (abs(w), abs(h)) if w and h else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(
                data[27:30], "little"
            )
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        return None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return (w, h) if w and h else None
            i += 2 + length
    return None


_PNG_CACHE: dict[tuple[int, int], bytes] = {}


def _png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size (what fake users send as photos)."""
    cached = _PNG_CACHE.get((width, height))
    if cached is not None:
        return cached

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + b"\xc8" * (3 * width) for _ in range(height))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    _PNG_CACHE[(width, height)] = png
    return png


def make_png(width: int = 640, height: int = 480) -> bytes:
    """A valid PNG image, handy as photo bytes in tests."""
    return _png(width, height)
