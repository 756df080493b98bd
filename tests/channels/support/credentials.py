"""Secrets of the test server, new for every test run."""
import secrets

API_TOKEN = secrets.token_urlsafe(24)  # rasa run --auth-token
JWT_SECRET = secrets.token_urlsafe(32)  # rasa run --jwt-secret (HS256)
SLACK_SIGNING_SECRET = secrets.token_hex(16)
SLACK_BOT_TOKEN = "xoxb-test-" + secrets.token_hex(8)
WEBCHAT_SESSION_SECRET = secrets.token_hex(32)  # signs web chat sessions
