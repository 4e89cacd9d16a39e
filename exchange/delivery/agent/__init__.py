"""The node agent (`exchange node-agent`): a client process that works one node's delivery
tasks through the center's API, by hand or simulated (docs/delivery.md, "Node agent").

It talks to the center only over HTTP and WebSocket, as any node's own system would.
"""
