"""The PySide6 desktop app: a thin view over the runtime's pipeline events.

It arrives with the desktop-app issue; the runtime (``assistant``) never imports it.
"""
