"""Market information: the committed L2 view, tape, candles, tickers, index, WebSocket hub."""
