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

{{/* Labels naming the release's pods, without a component. */}}
{{- define "g2p-gateway.instanceLabels" -}}
app.kubernetes.io/name: {{ include "g2p-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of the gateway's pods. The component keeps every gateway
selector (Deployment, Service, PDB, NetworkPolicy, ServiceMonitor) off the
bundled Redis, whose pods carry the same name and instance. */}}
{{- define "g2p-gateway.selectorLabels" -}}
{{ include "g2p-gateway.instanceLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}

{{/* Selector of the bundled Redis pods. */}}
{{- define "g2p-gateway.redisSelectorLabels" -}}
{{ include "g2p-gateway.instanceLabels" . }}
app.kubernetes.io/component: redis
{{- end -}}

{{/* Common labels (app.kubernetes.io/*), without a component. */}}
{{- define "g2p-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "g2p-gateway.instanceLabels" . }}
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


{{/* Whether sessions live in a store every replica shares (Redis). */}}
{{- define "g2p-gateway.sharedStore" -}}
{{- $store := (.Values.config.session | default dict).store -}}
{{- if or .Values.redis.enabled (and (kindIs "map" $store) (hasKey $store "redis")) -}}
true
{{- end -}}
{{- end -}}

{{/* The most replicas the Deployment may run. */}}
{{- define "g2p-gateway.maxReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.maxReplicas | int -}}
{{- else -}}
{{- .Values.replicaCount | int -}}
{{- end -}}
{{- end -}}

{{/* config.server.grace_period in whole seconds ("20s", "1m", "1m30s"; the
gateway's default 10s when absent). */}}
{{- define "g2p-gateway.graceSeconds" -}}
{{- $text := toString ((.Values.config.server | default dict).grace_period | default "10s") -}}
{{- if not (regexMatch "^([0-9]+m)?([0-9]+s)?$" $text) -}}
{{- fail (printf "config.server.grace_period %q: write it as seconds and/or minutes (e.g. 20s, 1m30s) so the chart can check terminationGracePeriodSeconds" $text) -}}
{{- end -}}
{{- $minutes := regexFind "[0-9]+m" $text | trimSuffix "m" | default "0" | int -}}
{{- $seconds := regexFind "[0-9]+s" $text | trimSuffix "s" | default "0" | int -}}
{{- add (mul $minutes 60) $seconds -}}
{{- end -}}

{{/* Refuses values that break a first install. Included by the Deployment,
so `helm template` and `helm install` fail with the reason. */}}
{{- define "g2p-gateway.validate" -}}
{{- $max := include "g2p-gateway.maxReplicas" . | int -}}
{{- if and (or (gt $max 1) .Values.autoscaling.enabled) (not (include "g2p-gateway.sharedStore" .)) -}}
{{- fail "more than one replica (replicaCount > 1 or autoscaling.enabled) needs a shared session store: set redis.enabled=true (and secrets.recordKey) or config.session.store.redis; with in-memory sessions a login's callback that reaches another pod fails" -}}
{{- end -}}
{{- $server := .Values.config.server | default dict -}}
{{- if hasKey $server "trust_forwarded_headers" -}}
{{- fail "config.server.trust_forwarded_headers is replaced by config.server.trusted_proxies: a list of the networks (CIDR) of the proxies whose X-Forwarded-* headers are trusted" -}}
{{- end -}}
{{- $grace := include "g2p-gateway.graceSeconds" . | int -}}
{{- $needed := add (.Values.preStopSleepSeconds | int) (mul 2 $grace) 5 -}}
{{- if lt (.Values.terminationGracePeriodSeconds | int) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds %d is too short: preStopSleepSeconds (%d) + 2 x config.server.grace_period (%ds; the gateway drains, then waits up to as long again) + 5s margin = %d" (.Values.terminationGracePeriodSeconds | int) (.Values.preStopSleepSeconds | int) $grace $needed) -}}
{{- end -}}
{{- end -}}

{{/* Whether a PodDisruptionBudget is rendered: only with more than one
replica (with one, minAvailable 1 would block every node drain). */}}
{{- define "g2p-gateway.pdbEnabled" -}}
{{- $min := ternary (.Values.autoscaling.minReplicas | int) (.Values.replicaCount | int) .Values.autoscaling.enabled -}}
{{- if and .Values.pdb.enabled (gt $min 1) -}}
true
{{- end -}}
{{- end -}}
