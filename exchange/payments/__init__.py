"""Stage 3: the ledger in PostgreSQL, escrow flows and the designated bank."""
