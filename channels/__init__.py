"""Input channels of the assistant: Rasa 3.6's REST, socket.io and Slack
connectors with the checks they lack (see README.md, "Channels").

Each module keeps Rasa's channel name, so URLs stay the same
(`/webhooks/rest/webhook`, `/socket.io`, `/webhooks/slack/webhook`), and is
enabled in `credentials.yml` by its class path.
"""
