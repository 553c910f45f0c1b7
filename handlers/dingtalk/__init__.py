"""DingTalk (钉钉) in and out: Stream-mode receiving, OpenAPI sending, the custom group robot.

This package is the only place that imports the ``dingtalk-stream`` SDK. Its parts are
channel plumbing with narrow interfaces (see docs/dingtalk.md); mapping DingTalk messages
and card presses to the services is done on top of them.
"""
