"""Backtesting: strategies, a compiled engine, metrics, reports, optimisation.

Nothing here imports the vault or ccxt: a backtest needs no credentials.
"""
