#!/usr/bin/env bash
# Validates deploy/ without Docker or a cluster:
#   - Prometheus config and alert rules with promtool (check config, check rules, and the
#     rule unit tests in prometheus/alerts_test.yml), when promtool is installed;
#   - YAML syntax and basic shape of the compose file and the Kubernetes manifests, with
#     python3 + PyYAML.
# Exits non-zero when a check fails. Run from anywhere: bash deploy/check.sh
#
# Set CHECK_REQUIRE_PROMTOOL=1 to fail (instead of skipping) when promtool is missing.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

failures=0
checks=0
skipped=0

ok()   { checks=$((checks + 1)); printf '  ok    %s\n' "$1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf '  FAIL  %s\n' "$1"; }
skip() { skipped=$((skipped + 1)); printf '  skip  %s\n' "$1"; }

# Runs a command quietly; on failure prints its output under the FAIL line.
run() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    ok "$name"
  else
    fail "$name"
    printf '%s\n' "$out" | head -n 20 | sed 's/^/        /'
  fi
}

echo "== Prometheus (promtool)"
if command -v promtool >/dev/null 2>&1; then
  echo "  using $(command -v promtool) ($(promtool --version 2>&1 | head -n1))"
  run "promtool check config deploy/prometheus/prometheus.yml" \
    promtool check config deploy/prometheus/prometheus.yml
  run "promtool check rules deploy/prometheus/alerts.yml" \
    promtool check rules deploy/prometheus/alerts.yml
  run "promtool test rules deploy/prometheus/alerts_test.yml" \
    promtool test rules deploy/prometheus/alerts_test.yml
else
  msg="promtool not found (Debian/Ubuntu: apt-get install prometheus, which provides /usr/bin/promtool)"
  if [[ "${CHECK_REQUIRE_PROMTOOL:-0}" == 1 ]]; then
    fail "$msg"
  else
    skip "$msg"
  fi
fi

echo "== YAML (python3 + PyYAML)"
if ! command -v python3 >/dev/null 2>&1; then
  fail "python3 not found"
elif ! python3 -c 'import yaml' >/dev/null 2>&1; then
  fail "PyYAML not installed (pip install pyyaml, or apt-get install python3-yaml)"
else
  out=$(python3 - <<'PY'
import glob
import sys

import yaml

failed = False

def report(ok, name, detail=""):
    global failed
    failed |= not ok
    print(f"  {'ok   ' if ok else 'FAIL '} {name}" + (f": {detail}" if detail else ""))

def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

# docker compose: one document with the expected services.
path = "deploy/docker-compose.yml"
try:
    docs = load_all(path)
    services = (docs[0] or {}).get("services", {}) if len(docs) == 1 else {}
    want = {"postgres", "migrate", "feasibility-1", "feasibility-2", "prometheus"}
    missing = sorted(want - set(services))
    ports = {s: services.get(s, {}).get("ports", []) for s in ("feasibility-1", "feasibility-2")}
    if len(docs) != 1:
        report(False, path, f"expected 1 YAML document, found {len(docs)}")
    elif missing:
        report(False, path, f"missing services: {', '.join(missing)}")
    elif ports != {"feasibility-1": ["9994:9994"], "feasibility-2": ["9995:9994"]}:
        report(False, path, f"unexpected replica ports {ports}")
    else:
        report(True, path, f"{len(services)} services")
except Exception as e:  # noqa: BLE001 - report any parse error
    report(False, path, str(e).replace("\n", " "))

# Kubernetes: every document has apiVersion, kind and metadata.name.
paths = sorted(glob.glob("deploy/kubernetes/*.yaml") + glob.glob("deploy/kubernetes/*.yml"))
if not paths:
    report(False, "deploy/kubernetes", "no manifests found")
kinds = []
for path in paths:
    try:
        docs = load_all(path)
        bad = [i for i, d in enumerate(docs)
               if not (isinstance(d, dict) and d.get("apiVersion") and d.get("kind")
                       and (d.get("metadata") or {}).get("name"))]
        if not docs or bad:
            report(False, path, "each document needs apiVersion, kind and metadata.name")
        else:
            kinds += [d["kind"] for d in docs]
            report(True, path, ", ".join(d["kind"] for d in docs))
    except Exception as e:  # noqa: BLE001
        report(False, path, str(e).replace("\n", " "))
missing = sorted({"Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} - set(kinds))
if paths and missing:
    report(False, "deploy/kubernetes", f"missing kinds: {', '.join(missing)}")

# Prometheus files are YAML too (promtool checks their meaning when it is installed).
for path in sorted(glob.glob("deploy/prometheus/*.yml")):
    try:
        load_all(path)
        report(True, path, "YAML syntax")
    except Exception as e:  # noqa: BLE001
        report(False, path, str(e).replace("\n", " "))

sys.exit(1 if failed else 0)
PY
)
  status=$?
  printf '%s\n' "$out"
  yaml_checks=$(grep -c '^  \(ok\|FAIL\)' <<<"$out")
  yaml_failures=$(grep -c '^  FAIL' <<<"$out")
  # A crash of the checker itself (no FAIL line printed) still counts as a failure.
  if [[ $status -ne 0 && $yaml_failures -eq 0 ]]; then
    yaml_checks=$((yaml_checks + 1)); yaml_failures=1
    echo "  FAIL  YAML checker exited with status $status"
  fi
  checks=$((checks + yaml_checks))
  failures=$((failures + yaml_failures))
fi

echo "== Result"
if [[ $failures -gt 0 ]]; then
  echo "  $failures of $checks checks FAILED ($skipped skipped)"
  exit 1
fi
echo "  all $checks checks passed ($skipped skipped)"
