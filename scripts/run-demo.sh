#!/usr/bin/env bash
# The demo: the example host on http://localhost:$HOST_PORT and the fake Cyclr on http://127.0.0.1:$CYCLR_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST_PORT=${HOST_PORT:-8000}
CYCLR_PORT=${CYCLR_PORT:-8001}
export HOST_ORIGIN="http://localhost:${HOST_PORT}"
export CYCLR_API_URL="http://127.0.0.1:${CYCLR_PORT}"
export CYCLR_CLIENT_ID=${CYCLR_CLIENT_ID:-demo-client}
export CYCLR_CLIENT_SECRET=${CYCLR_CLIENT_SECRET:-demo-secret}
# The fake Cyclr also sends the Marketplace webhook; the kit reconciles it with the browser's result.
export CYCLR_WEBHOOK_SECRET=${CYCLR_WEBHOOK_SECRET:-demo-webhook-secret-change-me}
DEMO_USER=${DEMO_USER:-demo}
DEMO_PASSWORD=${DEMO_PASSWORD:-demo-password}

for port in "$HOST_PORT" "$CYCLR_PORT"; do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    echo "Port $port is already in use. Stop what runs there, or choose others: make run HOST_PORT=9000 CYCLR_PORT=9001" >&2
    exit 1
  fi
done

mkdir -p var
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py create_demo_user --username "$DEMO_USER" --password "$DEMO_PASSWORD"
# What an integrator pastes into Cyclr's console; here the fake Cyclr serves it on its Launch Complete page.
"$PY" manage.py proxy_snippet --output var/launch_complete.html

"$PY" -m proxy.testing.fake_cyclr --host 127.0.0.1 --port "$CYCLR_PORT" \
  --client-id "$CYCLR_CLIENT_ID" --client-secret "$CYCLR_CLIENT_SECRET" --marketplace-id 1 \
  --complete-html-file var/launch_complete.html --state-file var/fake-cyclr-state.json \
  --notification-url "${HOST_ORIGIN}/proxy/webhook/${CYCLR_WEBHOOK_SECRET}/" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  Hostkit demo
  ------------
  Open    ${HOST_ORIGIN}/
  Sign in ${DEMO_USER} / ${DEMO_PASSWORD}
  Then click "Connect an integration", pick a package, enter any API key and install.
  (Fake Cyclr: ${CYCLR_API_URL}; Ctrl-C stops both.)

MSG
"$PY" manage.py runserver "localhost:${HOST_PORT}"
