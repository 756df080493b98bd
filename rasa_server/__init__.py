"""What the Rasa server needs beyond Rasa 3.6 to stay correct under faults.

Loaded through credentials.yml (`rasa_server.hooks.ServerHooks`, the one place
where `rasa run` loads project code at start): the time limits of a turn
checked at start-up, a tracker store that fails closed, a bounded action
server call, and Prometheus metrics on `/metrics`.
"""
