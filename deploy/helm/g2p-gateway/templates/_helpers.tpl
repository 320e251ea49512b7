{{/* Chart name. */}}
{{- define "g2p-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name. */}}
{{- define "g2p-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels. */}}
{{- define "g2p-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "g2p-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels (app.kubernetes.io/*). */}}
{{- define "g2p-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "g2p-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openg2p
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The image reference. */}}
{{- define "g2p-gateway.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- printf "%s/%s:%s" $registry .Values.image.repository $tag -}}
{{- end -}}

{{/* Service account name. */}}
{{- define "g2p-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "g2p-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the keys. */}}
{{- define "g2p-gateway.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-keys" (include "g2p-gateway.fullname" .)) -}}
{{- end -}}

{{/* gateway.yaml: .Values.config plus the bundled Redis when enabled. */}}
{{- define "g2p-gateway.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.redis.enabled -}}
{{- $redis := dict "url" (dict "env" "G2P_REDIS_URL") "record_keys" (list (dict "file" "/etc/g2p-gateway/secrets/record.key")) -}}
{{- $session := get $config "session" | default dict -}}
{{- $_ := set $session "store" (dict "redis" $redis) -}}
{{- $_ := set $config "session" $session -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
