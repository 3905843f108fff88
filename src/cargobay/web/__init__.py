"""The web interface: server-rendered pages over the same services as the API (docs/web.md)."""
