"""Paper and live trading: the backtest's strategies, one closed candle at a time."""
