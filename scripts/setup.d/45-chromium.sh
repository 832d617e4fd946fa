#!/usr/bin/env bash
# Debian's Chromium for the dashboard test (tests/serve/test_dashboard_browser.py): Playwright
# drives /usr/bin/chromium through executable_path, so no browser is ever downloaded.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ensure_apt chromium chromium-driver fonts-dejavu-core
