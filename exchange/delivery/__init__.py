"""Delivery through regional distribution nodes (docs/delivery.md)."""
