"""Wire types: every request, response and WebSocket message is a msgspec Struct."""
