#!/bin/sh
# `make run`: the service on SQLite under ./var/demo, a demo bare repository with the hook
# installed, one refused and one accepted push, then a "who changed what" query over HTTP.
# The service keeps running in the foreground; Ctrl-C stops it.
set -eu
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8080}
DEMO=var/demo
ROOT=$(pwd)

rm -rf "$DEMO" && mkdir -p "$DEMO"
cat > "$DEMO/auditsvc.yaml" <<YAML
db: sqlite:///audit.db
protected_refs: [refs/heads/main]
YAML
CONFIG="$ROOT/$DEMO/auditsvc.yaml"
git init -q --bare -b main "$DEMO/gitops.git"
"$BIN/auditsvc" hook install "$DEMO/gitops.git" --config "$CONFIG" >/dev/null
TOKEN=$("$BIN/auditsvc" token create --role auditor --name demo --config "$CONFIG")
echo "$TOKEN" > "$DEMO/token"

"$BIN/auditsvc" serve --port "$PORT" --workers 2 --config "$CONFIG" 2> "$DEMO/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do
  kill -0 $SERVER 2>/dev/null || { cat "$DEMO/serve.log"; exit 3; }
  sleep 0.2
done

WORK="$DEMO/work"
export GIT_AUTHOR_NAME="Ada Lovelace" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Lovelace" GIT_COMMITTER_EMAIL=ada@example.com
git clone -q "$DEMO/gitops.git" "$WORK" 2>/dev/null
echo "# gitops demo" > "$WORK/README.md"
git -C "$WORK" add README.md && git -C "$WORK" commit -qm "Start the repository" && git -C "$WORK" push -q origin main
mkdir -p "$WORK/apps"
cp examples/bad/*.yaml "$WORK/apps/"
git -C "$WORK" add apps && git -C "$WORK" commit -qm "Add cache and exposed apps"
echo "== git push of examples/bad (the hook refuses it):"
git -C "$WORK" push -q origin main 2>&1 | sed 's/^/   /' || true
git -C "$WORK" reset -q --hard HEAD~1  # the refused commit never landed: start again from main
mkdir -p "$WORK/apps" && cp examples/good/web.yaml "$WORK/apps/"
git -C "$WORK" add apps && git -C "$WORK" commit -qm "Add the web app"
echo "== git push of examples/good (accepted and recorded):"
git -C "$WORK" push -q origin main 2>&1 | sed 's/^/   /'
# post-receive records in the background; `hook record` waits for it (and records anything left).
"$BIN/auditsvc" hook record "$DEMO/gitops.git" --config "$CONFIG"
echo "== who changed what: GET /v1/changes"
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/changes" | "$BIN/python" -c '
import json, sys
for c in json.load(sys.stdin)["items"]:
    r = c["resource"]
    print("   {} {} {} {}/{}/{} by {} (pushed by {})".format(
        c["time"], c["commit"][:10], c["op"], r["kind"], r["namespace"], r["name"], c["author"]["email"], c["pusher"]["name"]))'

cat <<TEXT

auditsvc is serving on http://127.0.0.1:$PORT (log: $DEMO/serve.log). Try:
  git clone $DEMO/gitops.git /tmp/gitops      # edit, commit, git push: the hook judges it
  curl -H "Authorization: Bearer \$(cat $DEMO/token)" http://127.0.0.1:$PORT/v1/changes
  curl -H "Authorization: Bearer \$(cat $DEMO/token)" http://127.0.0.1:$PORT/v1/resources/Deployment/shop/web/history
  curl -H "Authorization: Bearer \$(cat $DEMO/token)" "http://127.0.0.1:$PORT/v1/commits/\$(git -C $WORK rev-parse HEAD)"
  curl -H "Authorization: Bearer \$(cat $DEMO/token)" http://127.0.0.1:$PORT/v1/verify
Ctrl-C stops the service.
TEXT
wait $SERVER
