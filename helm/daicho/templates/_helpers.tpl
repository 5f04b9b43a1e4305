{{/*
Names and labels.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "daicho.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, or <release>-<chart> (just <release> when
it already contains the chart's name). Kept to 55 characters so that a component suffix
still fits the 63 of a DNS label. */}}
{{- define "daicho.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one component: (dict "root" $ "component" "web") gives <fullname>-web. */}}
{{- define "daicho.componentName" -}}
{{- printf "%s-%s" (include "daicho.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "daicho.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "daicho.selectorLabels" -}}
app.kubernetes.io/name: {{ include "daicho.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "daicho.labels" -}}
helm.sh/chart: {{ include "daicho.chart" . }}
{{ include "daicho.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: daicho
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "web"). */}}
{{- define "daicho.componentSelectorLabels" -}}
{{ include "daicho.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component: (dict "root" $ "component" "web"). */}}
{{- define "daicho.componentLabels" -}}
{{ include "daicho.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Image and service account.
*/}}

{{- define "daicho.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "daicho.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "daicho.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Environment. Non-secret variables go to the ConfigMap; secret ones to the Secret (or
secrets.existingSecret). The paths match infra/Dockerfile and the volumes below.
*/}}

{{- define "daicho.varDir" -}}
/var/lib/daicho
{{- end }}

{{/* The ConfigMap's data, one `KEY: "value"` line each. */}}
{{- define "daicho.configData" -}}
DJANGO_SETTINGS_MODULE: "daicho.settings.production"
DAICHO_EMBEDDED: "0"
DAICHO_VAR_DIR: {{ include "daicho.varDir" . | quote }}
BASE_DOMAIN: {{ .Values.baseDomain | quote }}
{{- with .Values.config.allowedHosts }}
ALLOWED_HOSTS: {{ . | quote }}
{{- end }}
{{- with .Values.config.csrfTrustedOrigins }}
CSRF_TRUSTED_ORIGINS: {{ . | quote }}
{{- end }}
SECURE_SSL_REDIRECT: {{ .Values.config.secureSslRedirect | toString | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
DB_CONN_MAX_AGE: {{ .Values.config.dbConnMaxAge | int | toString | quote }}
TRUSTED_PROXY_COUNT: {{ .Values.config.trustedProxyCount | int | toString | quote }}
STORAGE_BACKEND: {{ .Values.storage.backend | quote }}
{{- if eq .Values.storage.backend "s3" }}
AWS_STORAGE_BUCKET_NAME: {{ .Values.storage.s3.bucket | quote }}
{{- with .Values.storage.s3.endpointUrl }}
AWS_S3_ENDPOINT_URL: {{ . | quote }}
{{- end }}
AWS_S3_REGION_NAME: {{ .Values.storage.s3.region | quote }}
{{- with .Values.storage.s3.anchorLock }}
AUDIT_ANCHOR_LOCK_DAYS: {{ .days | int | toString | quote }}
AUDIT_ANCHOR_LOCK_MODE: {{ .mode | quote }}
{{- end }}
{{- else }}
FILES_ROOT: {{ .Values.storage.local.filesRoot | quote }}
{{- end }}
{{- range $key, $value := .Values.config.extraEnv }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* The chart-managed Secret's stringData, one `KEY: "value"` line each; empty when
secrets.existingSecret is set or no secret value is given. */}}
{{- define "daicho.secretData" -}}
{{- if not .Values.secrets.existingSecret }}
{{- with .Values.secrets }}
{{- if .secretKey }}
SECRET_KEY: {{ .secretKey | quote }}
{{- end }}
{{- if .databaseUrl }}
DATABASE_URL: {{ .databaseUrl | quote }}
{{- end }}
{{- if .redisUrl }}
REDIS_URL: {{ .redisUrl | quote }}
{{- end }}
{{- if .awsAccessKeyId }}
AWS_ACCESS_KEY_ID: {{ .awsAccessKeyId | quote }}
{{- end }}
{{- if .awsSecretAccessKey }}
AWS_SECRET_ACCESS_KEY: {{ .awsSecretAccessKey | quote }}
{{- end }}
{{- range $key, $value := .extra }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret the long-running processes read: existingSecret, the chart's own, or
none (empty). */}}
{{- define "daicho.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if (include "daicho.secretData" . | trim) }}
{{- include "daicho.fullname" . }}
{{- end }}
{{- end }}

{{/* The Secret the migration Job reads. It runs before the release's own resources
exist, so the chart-managed values come in a hook Secret of their own. */}}
{{- define "daicho.migrateSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if (include "daicho.secretData" . | trim) }}
{{- printf "%s-migrate" (include "daicho.fullname" .) }}
{{- end }}
{{- end }}

{{/* envFrom of the long-running processes. */}}
{{- define "daicho.envFrom" -}}
- configMapRef:
    name: {{ include "daicho.fullname" . }}
{{- with (include "daicho.secretName" .) }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{/* Restart pods when their configuration changes. */}}
{{- define "daicho.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/*
Pods.
*/}}

{{/* Pod-level settings shared by every pod, the migration Job's included. */}}
{{- define "daicho.podSpecCommon" -}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The service account of the long-running pods (the migration Job uses none: it runs
before the release's ServiceAccount exists). */}}
{{- define "daicho.podServiceAccount" -}}
serviceAccountName: {{ include "daicho.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- end }}

{{/* Volumes: /tmp and DAICHO_VAR_DIR are emptyDirs (the root filesystem is read-only);
with local storage, FILES_ROOT is the files claim (or an emptyDir without persistence). */}}
{{- define "daicho.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit | default "512Mi" }}
- name: var
  emptyDir: {}
{{- if eq .Values.storage.backend "local" }}
- name: files
  {{- if .Values.storage.local.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ .Values.storage.local.persistence.existingClaim | default (printf "%s-files" (include "daicho.fullname" .)) }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- end }}

{{- define "daicho.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: var
  mountPath: {{ include "daicho.varDir" . }}
{{- if eq .Values.storage.backend "local" }}
- name: files
  mountPath: {{ .Values.storage.local.filesRoot }}
{{- end }}
{{- end }}
