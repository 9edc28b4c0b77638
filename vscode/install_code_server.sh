#!/bin/sh
# Install code-server (VS Code in the browser) into DIR for the editor-host test
# (tests/e2e/test_vscode.py, vscode/editor_host.py), from the npm registry and Debian's
# packages only. Prints the line to export at the end.
#
#   sh vscode/install_code_server.sh /opt/code-server
#   export AKD_CODE_SERVER=/opt/code-server/node_modules/.bin/code-server
#
# A plain `npm install code-server` does not get there on such a machine: its postinstall
# refuses root without --unsafe-perm, kerberos needs gssapi headers to build (no prebuilt
# binary is reachable), and @vscode/ripgrep downloads rg from outside the registry (its
# postinstall skips that when bin/ exists, so Debian's rg goes there).
set -eu
DIR=${1:?usage: install_code_server.sh DIR}
VERSION=4.100.3  # the last code-server line that runs on Node 20
export npm_config_yes=true npm_config_fund=false npm_config_audit=false

missing=""
for pkg in libkrb5-dev libxkbfile-dev libsecret-1-dev build-essential pkg-config ripgrep; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  apt-get update -qq && apt-get install -y -qq $missing
fi

mkdir -p "$DIR" && cd "$DIR" && DIR=$(pwd)
[ -f package.json ] || echo '{"name": "code-server-host", "version": "0.0.0", "private": true}' > package.json
npm install "code-server@$VERSION" --ignore-scripts
npm rebuild argon2 --foreground-scripts
cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild --foreground-scripts
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --foreground-scripts)
echo "export AKD_CODE_SERVER=$DIR/node_modules/.bin/code-server"
