"""Exchange stand-ins: Binance spot and Coinbase Advanced Trade over real TLS on
127.0.0.1, for tests that drive unmodified ccxt.

Modules: `tls` (test and impostor certificate authorities, CA bundle files),
`redirect` (host name to loopback port, everything else refused), `server` (the
threaded HTTPS base with request log and failure injection), `failures`, `book`
(balances, orders, candles), `binance`, `coinbase`, `clients` (ccxt with the test CA
trusted) and `fixtures` (pytest fixtures). Kept import-free so the child-process
start-up hook can import `redirect` cheaply.
"""
