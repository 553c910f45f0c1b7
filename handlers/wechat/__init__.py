"""The WeChat official account (公众号) as a channel: push endpoint, API client, rendering.

Layout (nothing under services/, storage/, domain/ or scheduler/ imports this package):
- config.py    WeChatConfig and from_env(WECHAT_* variables)
- crypto.py    signatures, replay window, AES message encryption (over `cryptography`)
- xml.py       DTD- and entity-free parsing of pushes, building of replies
- messages.py  pushes as frozen dataclasses, with idempotency keys
- replies.py   passive replies (text, image) and the encrypted envelope
- endpoint.py  the aiohttp 服务器配置 URL: verify, decrypt, hand to the app, answer within 5 s
- tokens.py    the shared access_token: TokenStore contract (lease + compare-and-set)
- api.py       customer-service, template, menu, QR-code and media calls
- outcomes.py  errcodes → Delivered / Retry / Undeliverable / Permanent / WindowClosed
- render.py    neutral message → WeChat text and numbered replies
- templates.py template-message data fitted to keyword types
- menu.py, qr.py, limits.py
docs/wechat.md explains the pieces and the account setup.
"""
