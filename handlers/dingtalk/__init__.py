"""DingTalk (钉钉) in and out: Stream-mode receiving, OpenAPI sending, the custom group robot.

This package is the only place that imports the ``dingtalk-stream`` SDK. The plumbing (api,
stream, robot, render, limits, config) has narrow interfaces; ``inbound`` maps robot messages
and card presses to services.inbound.Router (through the durable inbox) and ``outbound`` is the
dispatcher's OutboundChannel. bot/channels.py wires them (docs/dingtalk.md).
"""
