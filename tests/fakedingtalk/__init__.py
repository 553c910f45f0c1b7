"""A fake DingTalk platform for tests (see :class:`FakeDingTalk`).

Tests never talk to DingTalk: the bot's OpenAPI, oapi and Stream gateway URLs point here and
the test plays the people::

    with FakeDingTalk() as fake:                       # background thread, free port
        fake.add_user("staff01", "王科员")
        fake.add_group("cidStaffGroup==", "工作人员群", ("staff01",))
        frame = fake.send_text("staff01", "绑定工作群", group="cidStaffGroup==")
        fake.wait_for(lambda: fake.frame(frame["headers"]["messageId"])["state"] == "acked")
        fake.messages("group:cidStaffGroup==")         # what the bot sent there
"""

from .server import (
    BOT_TOPIC,
    CARD_TOPIC,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeDingTalk,
    FakeLimits,
    sign,
)

__all__ = [
    "BOT_TOPIC",
    "CARD_TOPIC",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "FakeDingTalk",
    "FakeLimits",
    "sign",
]
