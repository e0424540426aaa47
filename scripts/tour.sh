#!/usr/bin/env bash
# A short guided tour of the key vault and audit log in a throwaway home
# (`make run` runs the backtest demo instead: `crypto-trader demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
ct=.venv/bin/crypto-trader

tour_dir=$(mktemp -d -t crypto-trader-tour.XXXXXX)
export CRYPTO_TRADER_HOME="$tour_dir/home"
# The tour uses the passphrase-protected key file so it runs the same on every machine;
# a real installation takes the OS keyring when there is one.
export CRYPTO_TRADER_KEY_STORE=file
CRYPTO_TRADER_KEY_PASSPHRASE="tour-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export CRYPTO_TRADER_KEY_PASSPHRASE

step() { printf '\n\033[1m$ crypto-trader %s\033[0m\n' "$*"; }

step init
$ct init

step "keys add --exchange binance --label demo --stdin   (a made-up key)"
printf '{"api_key": "demoKEY0123456789abcdefDEMO", "secret": "demo-secret-%s"}' \
  "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
  | $ct keys add --exchange binance --label demo --stdin

step keys list
$ct keys list

step "keys set-permission demo trading"
$ct keys set-permission demo trading

step keys verify
$ct keys verify

step "audit show"
$ct audit show

step "audit verify"
$ct audit verify

step security-report
$ct security-report || true

printf '\nThe tour home is %s (delete it when done).\n' "$tour_dir"
