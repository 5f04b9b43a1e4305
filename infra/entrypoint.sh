#!/usr/bin/env bash
# Container entrypoint: run one of Daicho's processes in the foreground.
#
#   entrypoint.sh web|worker|beat [extra arguments passed to that process]
#   entrypoint.sh migrate                   shared schema first, then every city's schema
#   entrypoint.sh manage COMMAND [ARGS...]  a one-off `manage.py` command
#
# These are the commands of infra/Procfile; tune them with the environment variables below
# (documented in infra/env.example). Each long-running process is exec'd so that it
# receives the container's signals directly.
set -euo pipefail

app_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manage=(python "${app_dir}/manage.py")

usage() {
  echo "usage: $(basename "$0") {web|worker|beat|migrate|manage} [args...]" >&2
  exit 64
}

[[ $# -ge 1 ]] || usage
process="$1"
shift

case "${process}" in
  web)
    # Access lines carry the host (which city), method, path without query string, status,
    # size and duration: query strings may hold personal data and are never logged, nor a
    # path segment that is not plain ASCII (daicho.logs.GunicornLogger: a name typed where
    # a record id goes). A request gunicorn refuses before Django sees it (a request line
    # or headers too long, malformed) is answered in the API's error shape under /api/ and
    # quoted neither in the answer nor in the log (daicho.gunicorn_workers.Worker: gunicorn's
    # gthread worker with threads, its sync worker without).
    exec gunicorn daicho.wsgi:application \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-4}" \
      --threads "${GUNICORN_THREADS:-2}" \
      --timeout "${GUNICORN_TIMEOUT:-60}" \
      --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
      --keep-alive "${GUNICORN_KEEPALIVE:-5}" \
      --max-requests "${GUNICORN_MAX_REQUESTS:-1000}" \
      --max-requests-jitter "${GUNICORN_MAX_REQUESTS_JITTER:-100}" \
      --worker-tmp-dir "${GUNICORN_WORKER_TMP_DIR:-/dev/shm}" \
      --access-logfile - \
      --worker-class daicho.gunicorn_workers.Worker \
      --logger-class daicho.logs.GunicornLogger \
      --access-logformat '%({host}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms' \
      --error-logfile - \
      "$@"
    ;;
  worker)
    exec celery -A workers worker \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" \
      --max-tasks-per-child "${CELERY_MAX_TASKS_PER_CHILD:-500}" \
      "$@"
    ;;
  beat)
    # The schedule file goes to CELERY_BEAT_SCHEDULE_FILENAME (settings: under
    # DAICHO_VAR_DIR), which must be writable. Run exactly one beat per deployment.
    exec celery -A workers beat --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  migrate)
    [[ $# -eq 0 ]] || usage
    # The public (shared) schema first: the tenant list lives there.
    "${manage[@]}" migrate_schemas --shared
    exec "${manage[@]}" migrate_schemas --tenant --parallel 2
    ;;
  manage)
    [[ $# -ge 1 ]] || usage
    exec "${manage[@]}" "$@"
    ;;
  *)
    usage
    ;;
esac
