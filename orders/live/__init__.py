"""Live order updates: events published to a Redis stream after commit (publish.py), and the ASGI
server that pushes them to WebSocket (seed 004's protocol) and Server-Sent Events clients."""
