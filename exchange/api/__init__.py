"""The HTTP API: endpoint declarations, middleware, handlers per resource."""
