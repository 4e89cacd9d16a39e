"""Electronic contracts: complete terms, signed, chained, reviewed, driven by one state machine."""
