#!/usr/bin/env bash
# Embeds the Centrifugo JS SDK (npm centrifuge) into the demo page: installs
# the version pinned in test/sdk/node/package-lock.json (the one the SDK tests
# run, so the page ships what is tested), then copies its browser bundle and
# licence into web/vendor/, which package web embeds and the gateway serves
# at /vendor/centrifuge.js. Run it after changing that pin; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix test/sdk/node --no-audit --no-fund >/dev/null
pkg=test/sdk/node/node_modules/centrifuge
version=$(node -p "require('./$pkg/package.json').version")
mkdir -p web/vendor
cp "$pkg/dist/centrifuge.js" web/vendor/centrifuge.js
cp "$pkg/LICENSE" web/vendor/centrifuge.LICENSE
printf '%s\n' "$version" > web/vendor/centrifuge.version
echo "web/vendor: centrifuge $version ($(wc -c < web/vendor/centrifuge.js) bytes)"
