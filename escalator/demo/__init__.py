"""The demo: a small web service on loopback and the story `escalator demo` tells with it."""
