{{/*
Names and labels, defined once and used by every template.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "kafkatrade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release-aware prefix of every object name, truncated to 63 characters (DNS labels).
A release named like the chart is not repeated ("kafkatrade", not "kafkatrade-kafkatrade").
*/}}
{{- define "kafkatrade.fullname" -}}
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

{{/* name-version, as the helm.sh/chart label wants it. */}}
{{- define "kafkatrade.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the pods of the release (never change them on upgrade). */}}
{{- define "kafkatrade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kafkatrade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "kafkatrade.labels" -}}
helm.sh/chart: {{ include "kafkatrade.chart" . }}
{{ include "kafkatrade.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kafkatrade
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component's objects: (dict "root" $ "component" "bot"). */}}
{{- define "kafkatrade.componentLabels" -}}
{{ include "kafkatrade.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of a component's pods: (dict "root" $ "component" "bot"). */}}
{{- define "kafkatrade.componentSelectorLabels" -}}
{{ include "kafkatrade.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
A kafkatrade image from (dict "root" $ "image" <image values>):
[image.registry/]repository:tag[@digest]; the tag defaults to image.tag, then appVersion.
*/}}
{{- define "kafkatrade.image" -}}
{{- $root := .root }}
{{- $repository := .image.repository }}
{{- if $root.Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" $root.Values.image.registry) $repository }}
{{- end }}
{{- $tag := .image.tag | default $root.Values.image.tag | default $root.Chart.AppVersion }}
{{- printf "%s:%s" $repository (toString $tag) }}{{ with .image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/* The replay server's image values: its own, else the downloader's. */}}
{{- define "kafkatrade.marketImage" -}}
{{- $own := .Values.market.image }}
{{- $downloader := .Values.downloader.image }}
{{- if $own.repository }}
{{- include "kafkatrade.image" (dict "root" . "image" (dict "repository" $own.repository "tag" $own.tag)) }}
{{- else }}
{{- include "kafkatrade.image" (dict "root" . "image" (dict "repository" $downloader.repository "tag" ($own.tag | default $downloader.tag) "digest" (ternary "" $downloader.digest (not (empty $own.tag))))) }}
{{- end }}
{{- end }}

{{/* Name of the Strimzi Kafka cluster. */}}
{{- define "kafkatrade.kafkaCluster" -}}
{{- .Values.kafka.clusterName | default (printf "%s-kafka" (include "kafkatrade.fullname" .)) | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* The bootstrap servers the services use. */}}
{{- define "kafkatrade.bootstrapServers" -}}
{{- if .Values.kafka.create }}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" (include "kafkatrade.kafkaCluster" .) .Release.Namespace (int .Values.kafka.listenerPort) }}
{{- else }}
{{- required "kafka.bootstrapServers is required when kafka.create is false" .Values.kafka.bootstrapServers }}
{{- end }}
{{- end }}

{{/* The provider base URL the downloader polls. */}}
{{- define "kafkatrade.providerUrl" -}}
{{- if .Values.provider.url }}
{{- .Values.provider.url }}
{{- else if .Values.market.enabled }}
{{- printf "http://%s-market.%s.svc:%d" (include "kafkatrade.fullname" .) .Release.Namespace (int .Values.market.port) }}
{{- else }}
{{- fail "provider.url is required when market.enabled is false" }}
{{- end }}
{{- end }}

{{/*
Replicas of a service: its own value, else the partitions of the topic it consumes.
(dict "root" $ "component" "bot")
*/}}
{{- define "kafkatrade.replicas" -}}
{{- $values := index .root.Values .component }}
{{- $topic := dict "downloader" "stocks" "bot" "quotes" "dbservice" "quotes" | pluck .component | first }}
{{- if kindIs "invalid" $values.replicas }}
{{- (index .root.Values.topics $topic).partitions }}
{{- else }}
{{- $values.replicas }}
{{- end }}
{{- end }}

{{/* Secret names and keys. */}}
{{- define "kafkatrade.mongodbAuthSecret" -}}
{{- .Values.mongodb.auth.existingSecret | default (printf "%s-mongodb" (include "kafkatrade.fullname" .)) }}
{{- end }}
{{- define "kafkatrade.mongodbUriSecret" -}}
{{- .Values.mongodb.existingSecret | default (printf "%s-mongodb-uri" (include "kafkatrade.fullname" .)) }}
{{- end }}
{{- define "kafkatrade.providerSecret" -}}
{{- .Values.provider.existingSecret | default (printf "%s-provider" (include "kafkatrade.fullname" .)) }}
{{- end }}
{{- define "kafkatrade.saslSecret" -}}
{{- .Values.kafka.sasl.existingSecret | default (printf "%s-kafka-sasl" (include "kafkatrade.fullname" .)) }}
{{- end }}

{{/* Whether the services get a SASL password / a provider API key at all. */}}
{{- define "kafkatrade.hasSaslPassword" -}}
{{- if or .Values.kafka.sasl.existingSecret .Values.kafka.sasl.password }}true{{ end }}
{{- end }}
{{- define "kafkatrade.hasProviderKey" -}}
{{- if or .Values.provider.existingSecret .Values.provider.apiKey }}true{{ end }}
{{- end }}

{{/* Environment every kafkatrade container gets: the pod name and the Kafka secrets. */}}
{{- define "kafkatrade.kafkaEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- if include "kafkatrade.hasSaslPassword" . }}
- name: KAFKATRADE_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kafkatrade.saslSecret" . }}
      key: {{ .Values.kafka.sasl.existingSecretPasswordKey }}
{{- end }}
{{- end }}

{{/* Volumes and mounts every kafkatrade container gets: a writable /tmp, the Kafka CA. */}}
{{- define "kafkatrade.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end }}
{{- define "kafkatrade.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/kafkatrade/kafka-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* The pod-level fields shared by the services: (dict "root" $ "values" <component values>). */}}
{{- define "kafkatrade.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
