#!/usr/bin/env bash
# Browser tests drive Debian's chromium (no browser download at run time). Install it when
# missing and we are allowed to (root with apt); otherwise the browser tests skip, saying why.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will be skipped" >&2
else
  echo "warning: chromium not installed and not root; browser tests will be skipped" >&2
fi
exit 0
