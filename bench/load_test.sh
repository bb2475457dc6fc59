#!/usr/bin/env bash
# Load test: Locust, headless, against a real gunicorn on 127.0.0.1, at 10, 20 and 50 users.
#
# Prints, per user count, OCR latency p50/p95, throughput, the error rate (must be 0) and the
# requests shed with 429/503 + Retry-After (the only allowed "failures", counted separately).
# Bounded: each step runs DURATION, users never exceed the largest count, and the server started
# here is stopped on exit.  Traffic goes to the loopback address only.
#
#   bench/load_test.sh                       # 10 20 50 users, 30 s each, 1 worker
#   USERS="10" DURATION=15s bench/load_test.sh
#   WORKERS=2 THREADS=1 bench/load_test.sh --json load.json
#
# Environment: USERS ("10 20 50"), DURATION (30s), WORKERS (1), THREADS (inference threads per
# worker, 2), MAX_CONCURRENT (server's limits.maxConcurrentRequests, default from config),
# OUT (folder for Locust CSVs and the server log; a temporary one by default), JSON (or --json FILE:
# write the figures there),
# plus the locustfile's OCR_BENCH_PAGES / OCR_BENCH_WAIT / OCR_BENCH_TIMEOUT.
set -euo pipefail

while [[ $# -gt 0 ]]; do
    case "$1" in
        --json) JSON="$2"; shift 2 ;;
        --json=*) JSON="${1#--json=}"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "${JSON:-}" && "$JSON" != /* ]] && JSON="$PWD/$JSON"  # relative to the caller's folder

cd "$(dirname "$0")/.."
USERS=${USERS:-"10 20 50"}
DURATION=${DURATION:-30s}
WORKERS=${WORKERS:-1}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python}
OUT=${OUT:-$(mktemp -d -t ocr-load-XXXXXX)}
mkdir -p "$OUT"

command -v locust >/dev/null || { echo "locust is not installed: pip install locust" >&2; exit 2; }

PORT=$("$PYTHON" -c 'from bench.server import free_port; print(free_port())')
URL="http://127.0.0.1:${PORT}"

export OCR__SERVER__WORKERS="$WORKERS" OCR__RECOGNITION__THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
export OCR__SERVER__LOG_LEVEL=warning
[[ -n "${MAX_CONCURRENT:-}" ]] && export OCR__LIMITS__MAX_CONCURRENT_REQUESTS="$MAX_CONCURRENT"

"$PYTHON" -m gunicorn -c ocr_server/gunicorn.conf.py --bind "127.0.0.1:${PORT}" ocr_server.wsgi:app \
    >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
cleanup() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 600); do
    if curl -fsS "$URL/ready" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited; log:" >&2; tail -20 "$OUT/server.log" >&2; exit 1; }
    sleep 0.3
done
curl -fsS "$URL/ready" >/dev/null || { echo "server not ready after 180 s" >&2; exit 1; }

echo "server: $URL  workers=$WORKERS inference-threads=$THREADS  duration/step=$DURATION  users: $USERS"
echo "        $(curl -fsS "$URL/api/v1/info" | "$PYTHON" -c 'import json,sys; c=json.load(sys.stdin)["config"]; print("limits:", c["limits"])')"
PREFIXES=()
for U in $USERS; do
    echo "--- $U users for $DURATION ..."
    # exit code 0 even with failures: load_report.py judges them (sheds are not failures)
    locust -f bench/locustfile.py --headless --host "$URL" -u "$U" -r "$U" -t "$DURATION" \
        --stop-timeout 30 --csv "$OUT/u$U" --only-summary --exit-code-on-error 0 --loglevel WARNING \
        >"$OUT/locust-u$U.log" 2>&1
    PREFIXES+=("$OUT/u$U")
done

REPORT_ARGS=("${PREFIXES[@]}")
[[ -n "${JSON:-}" ]] && REPORT_ARGS+=(--json "$JSON")
echo "results in $OUT"
"$PYTHON" bench/load_report.py "${REPORT_ARGS[@]}"
