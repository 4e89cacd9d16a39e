"""Negotiated trade: named listings (and, later, RFQs, quotes, counters, awards)."""
