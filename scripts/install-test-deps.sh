#!/usr/bin/env bash
# Install what the private Secret Service tests need (tests/support/secret_service.py)
# and the headless Chromium that opens the backtest report (tests/backtest).
# Quiet when everything is present; as root on Debian it installs what is missing;
# otherwise it says what to install and exits 0, and those tests skip.
set -euo pipefail

commands=(gnome-keyring-daemon dbus-daemon dbus-send secret-tool chromium)
# dbus-send comes with dbus (through dbus-bin). dbus-x11 is not needed: the tests
# start dbus-daemon themselves, and apt picks a session bus for gnome-keyring.
packages=(gnome-keyring dbus libsecret-tools chromium)

missing=()
for command in "${commands[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ] \
    || ! command -v apt-get >/dev/null; then
    echo "install-test-deps: missing ${missing[*]}; as root, install" \
        "${packages[*]} (Debian names), or the tests that need them skip" >&2
    exit 0
fi

echo "install-test-deps: installing ${packages[*]} for ${missing[*]}" >&2
# Wait for another apt or dpkg run instead of failing on its lock.
lock_wait=(-o DPkg::Lock::Timeout=300)
apt-get "${lock_wait[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${lock_wait[@]}" install -qq -y \
    --no-install-recommends "${packages[@]}" >/dev/null

for command in "${missing[@]}"; do
    if ! command -v "$command" >/dev/null 2>&1; then
        echo "install-test-deps: $command still missing after installing" \
            "${packages[*]}" >&2
        exit 1
    fi
done
