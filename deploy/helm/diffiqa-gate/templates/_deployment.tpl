{{/* One component's Deployment: (dict "root" $ "component" "gate" "command" "run") */}}
{{- define "diffiqa-gate.deployment" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $port := include "diffiqa-gate.metricsPort" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "diffiqa-gate.fullname" $root }}-{{ .component }}
  labels:
    {{- include "diffiqa-gate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "diffiqa-gate.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "diffiqa-gate.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
      annotations:
        # A config change rolls the pods; the process reads its config only at start.
        checksum/config: {{ include "diffiqa-gate.config" . | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "diffiqa-gate.serviceAccountName" $root }}
      terminationGracePeriodSeconds: {{ include "diffiqa-gate.grace" . }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "diffiqa-gate.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .command | quote }}, "--config", "/etc/diffiqa-gate/config.yaml"]
          env:
            # The image sets this too, and env wins over the file: keep both on the chart's port.
            - name: DIFFIQA_GATE__TELEMETRY__METRICS_PORT
              value: {{ $port | quote }}
            - name: DIFFIQA_ASSET_DOWNLOAD
              value: {{ ternary "1" "0" $root.Values.models.allowDownload | quote }}
            - name: OTEL_SERVICE_NAME
              value: diffiqa-{{ .component }}
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: k8s.namespace.name={{ $root.Release.Namespace }}
            - name: OTEL_METRICS_EXPORTER
              value: {{ $root.Values.otel.metricsExporter | quote }}
            {{- with $root.Values.otel.endpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: {{ $port }}
              protocol: TCP
          # Model loading can take minutes (CUDA sessions): liveness waits for the startup probe.
          startupProbe:
            httpGet: { path: /healthz, port: metrics }
            periodSeconds: 5
            failureThreshold: 60
          livenessProbe:
            httpGet: { path: /healthz, port: metrics }
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          # 503 while models load, the consumer joins, the broker is unreachable, or draining.
          readinessProbe:
            httpGet: { path: /readyz, port: metrics }
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- $res := deepCopy $v.resources }}
            {{- if $v.gpu.enabled }}
            {{- $_ := set $res "limits" (merge (dict $v.gpu.resourceName ($v.gpu.count | int)) ($res.limits | default dict)) }}
            {{- end }}
            {{- toYaml $res | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/diffiqa-gate
              readOnly: true
            # readOnlyRootFilesystem: Node and onnxruntime still want a writable /tmp.
            - name: tmp
              mountPath: /tmp
            {{- if $root.Values.models.existingClaim }}
            - name: models
              mountPath: /app/.cache/models
              readOnly: true
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "diffiqa-gate.fullname" $root }}
            items:
              - key: {{ .component }}.yaml
                path: config.yaml
        - name: tmp
          emptyDir: {}
        {{- if $root.Values.models.existingClaim }}
        - name: models
          persistentVolumeClaim:
            claimName: {{ $root.Values.models.existingClaim }}
            readOnly: true
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
