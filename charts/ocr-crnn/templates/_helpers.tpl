{{/*
Names, labels, images and the checks on contradictory values. Every template includes these; none
repeats their logic.
*/}}

{{/* The chart name, or nameOverride; 63 characters at most (a DNS label). */}}
{{- define "ocr-crnn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: "<release>-<chart>", or just "<release>" when the release
name already contains the chart name, or fullnameOverride.
*/}}
{{- define "ocr-crnn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "ocr-crnn-0.1.0", for the helm.sh/chart label. */}}
{{- define "ocr-crnn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. Call with the root context. */}}
{{- define "ocr-crnn.labels" -}}
helm.sh/chart: {{ include "ocr-crnn.chart" . }}
{{ include "ocr-crnn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ocr-crnn
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The immutable subset used in the operator Deployment's selector. */}}
{{- define "ocr-crnn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocr-crnn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the operator's objects (Deployment, pods, ServiceAccount, RBAC). */}}
{{- define "ocr-crnn.operator.labels" -}}
{{ include "ocr-crnn.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "ocr-crnn.operator.selectorLabels" -}}
{{ include "ocr-crnn.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "ocr-crnn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ocr-crnn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "ocr-crnn.operator.image" -}}
{{- $img := .Values.operator.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{/* The name of the kopf peering object. */}}
{{- define "ocr-crnn.peeringName" -}}
{{- default (include "ocr-crnn.fullname" .) .Values.operator.peering.name }}
{{- end }}

{{/* "true" when the operator watches only operator.watchNamespaces, "" when cluster-wide. */}}
{{- define "ocr-crnn.namespaced" -}}
{{- if .Values.operator.watchNamespaces }}true{{ end }}
{{- end }}

{{/* Namespace of the sample OcrService. */}}
{{- define "ocr-crnn.sample.namespace" -}}
{{- default .Release.Namespace .Values.sample.namespace }}
{{- end }}

{{/* Service port of the sample OcrService: spec.service.port, or the CRD's default 80. */}}
{{- define "ocr-crnn.sample.port" -}}
{{- dig "service" "port" 80 (.Values.sample.spec | default dict) | int }}
{{- end }}

{{/* The restricted-profile securityContext of every container the chart runs. */}}
{{- define "ocr-crnn.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ocr-crnn.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Contradictory values fail the render with a message saying what to change. Included once, from
operator-deployment.yaml, so `helm template` and `helm install` both stop before anything is sent.
*/}}
{{- define "ocr-crnn.validate" -}}
{{- $op := .Values.operator }}
{{- if and (gt (int $op.replicas) 1) (not $op.peering.enabled) }}
{{- fail (printf "operator.replicas=%d needs operator.peering.enabled=true: un-peered operators would all reconcile the same OcrServices and fight over them" (int $op.replicas)) }}
{{- end }}
{{- if and .Values.sample.enabled $op.watchNamespaces (not (has (include "ocr-crnn.sample.namespace" .) $op.watchNamespaces)) }}
{{- fail (printf "sample.namespace %q is not in operator.watchNamespaces %v: the operator would never reconcile the sample OcrService" (include "ocr-crnn.sample.namespace" .) $op.watchNamespaces) }}
{{- end }}
{{- if ne (len $op.watchNamespaces) (len (uniq $op.watchNamespaces)) }}
{{- fail (printf "operator.watchNamespaces lists a namespace twice: %v" $op.watchNamespaces) }}
{{- end }}
{{- with .Values.sample.spec }}
{{- $as := .autoscaling | default dict }}
{{- if and $as.enabled $as.minReplicas $as.maxReplicas (gt (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "sample.spec.autoscaling.minReplicas (%d) exceeds maxReplicas (%d)" (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- end }}
{{- $ing := .ingress | default dict }}
{{- if and $.Values.sample.enabled $ing.enabled (not $ing.host) }}
{{- fail "sample.spec.ingress.enabled=true needs sample.spec.ingress.host" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Labels the operator puts on every OcrService's Service (operator/ocr_operator/builders/meta.py), and
the name of the Service's HTTP port (builders/service.py): what the ServiceMonitor selects and scrapes.
*/}}
{{- define "ocr-crnn.server.selectorLabels" -}}
app.kubernetes.io/component: ocr-server
app.kubernetes.io/managed-by: ocr-operator
{{- end }}

{{- define "ocr-crnn.server.portName" -}}
http
{{- end }}
