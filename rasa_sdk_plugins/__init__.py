"""The action server's extensions, found by the Rasa SDK itself: at start-up
`rasa_sdk.plugin` imports a package named `rasa_sdk_plugins` and calls its
`init_hooks` (rasa_sdk 3.6's plugin hook). Ours adds `GET /metrics`."""
import pluggy


def init_hooks(manager: pluggy.PluginManager) -> None:
    from rasa_sdk_plugins import metrics

    manager.register(metrics)
