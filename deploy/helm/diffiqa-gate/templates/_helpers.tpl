{{- define "diffiqa-gate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "diffiqa-gate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "diffiqa-gate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "diffiqa-gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gate") */}}
{{- define "diffiqa-gate.selector" -}}
app.kubernetes.io/name: {{ include "diffiqa-gate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "diffiqa-gate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "diffiqa-gate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The component's effective product config: config merged with <component>.config. */}}
{{- define "diffiqa-gate.config" -}}
{{- $v := index .root.Values .component -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.config) (deepCopy $v.config)) -}}
{{- end -}}

{{- define "diffiqa-gate.metricsPort" -}}
{{- $port := int .root.Values.config.telemetry.metricsPort -}}
{{- if not $port -}}{{- fail "config.telemetry.metricsPort must be set (probes, Service and ServiceMonitor use it)" -}}{{- end -}}
{{- $port -}}
{{- end -}}

{{/* Pod grace period: longer than the drain deadline, or the kubelet kills a drain half-way. */}}
{{- define "diffiqa-gate.grace" -}}
{{- $cfg := fromYaml (include "diffiqa-gate.config" .) -}}
{{- $v := index .root.Values .component -}}
{{- $deadline := int (div (add (int $cfg.shutdown.deadlineMs) 999) 1000) -}}
{{- $grace := int (default (add $deadline (int .root.Values.graceMarginSeconds)) $v.terminationGracePeriodSeconds) -}}
{{- if le $grace $deadline -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must exceed shutdown.deadlineMs (%d s)" .component $grace $deadline) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}

{{/* Per-component image; a GPU component defaults to the CUDA image, tagged <tag>-cuda. */}}
{{- define "diffiqa-gate.image" -}}
{{- $v := index .root.Values .component -}}
{{- $repo := $v.image.repository | default .root.Values.image.repository -}}
{{- $tag := $v.image.tag | default (printf "%s%s" (.root.Values.image.tag | default .root.Chart.AppVersion) (ternary "-cuda" "" $v.gpu.enabled)) -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
