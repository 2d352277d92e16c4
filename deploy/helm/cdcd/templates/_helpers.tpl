{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "cdcd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels that select the release's pods. */}}
{{- define "cdcd.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "cdcd.labels" -}}
{{ include "cdcd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The Secret mounted under /etc/cdcd/secrets. */}}
{{- define "cdcd.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "cdcd.fullname" .) -}}
{{- end -}}

{{/* mode, checked. */}}
{{- define "cdcd.mode" -}}
{{- if not (has .Values.mode (list "sidecar" "group")) -}}
{{- fail (printf "mode %q: want sidecar or group" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{/*
cdcd.yaml: .Values.config with the chart's settings: health.listen always; api.listen on
loopback (sidecar) or the pod's address with a token and an advertised address (group);
api.secrets_key from the Secret (the key sealing literal secrets in the config topic: a key
generated in the pod's emptyDir would be lost at its restart); group.id (group); the connectors.
*/}}
{{- define "cdcd.config" -}}
{{- $mode := include "cdcd.mode" . -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $_ := set $cfg "health" (dict "listen" (printf "0.0.0.0:%d" (int .Values.ports.health))) -}}
{{- $api := deepCopy (get $cfg "api" | default dict) -}}
{{- if eq $mode "group" -}}
{{- $_ := set $api "listen" (get $api "listen" | default (printf "0.0.0.0:%d" (int .Values.ports.api))) -}}
{{- $_ := set $api "token" (get $api "token" | default "${dir:/etc/cdcd/secrets:api-token}") -}}
{{- $_ := set $api "advertised" (get $api "advertised" | default (printf "${env:CDCD_POD_IP}:%d" (int .Values.ports.api))) -}}
{{- if not (get (get $cfg "registry" | default dict) "url") -}}
{{- fail "mode group needs config.registry.url: the members of a group share a schema registry outside it (docs/operations.md, Group mode)" -}}
{{- end -}}
{{- $group := deepCopy (get $cfg "group" | default dict) -}}
{{- $_ := set $group "id" (.Values.group.id | default (get $group "id") | default (include "cdcd.fullname" .)) -}}
{{- $_ := set $cfg "group" $group -}}
{{- else -}}
{{- $_ := set $api "listen" (get $api "listen" | default (printf "127.0.0.1:%d" (int .Values.ports.api))) -}}
{{- end -}}
{{- $_ := set $api "secrets_key" (get $api "secrets_key" | default "${dir:/etc/cdcd/secrets:secrets-key}") -}}
{{- $_ := set $cfg "api" $api -}}
{{- if .Values.connectors -}}
{{- $_ := set $cfg "connectors" .Values.connectors -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* cdcd's container but its name, the same in both modes. */}}
{{- define "cdcd.container" -}}
image: {{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: ["run", "--config", "/etc/cdcd/cdcd.yaml"]
env:
  - name: CDCD_POD_IP
    valueFrom:
      fieldRef:
        fieldPath: status.podIP
  - name: TMPDIR
    value: /var/lib/cdcd
  {{- with .Values.goMemLimit }}
  - name: GOMEMLIMIT
    value: {{ . | quote }}
  {{- end }}
ports:
  - name: api
    containerPort: {{ .Values.ports.api }}
  - name: health
    containerPort: {{ .Values.ports.health }}
livenessProbe:
  httpGet:
    path: /healthz
    port: health
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
{{- if .Values.probes.readiness.enabled }}
readinessProbe:
  httpGet:
    path: /readyz
    port: health
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
{{- end }}
resources:
  {{- toYaml .Values.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
volumeMounts:
  - name: cdcd-config
    mountPath: /etc/cdcd/cdcd.yaml
    subPath: cdcd.yaml
    readOnly: true
  - name: cdcd-secrets
    mountPath: /etc/cdcd/secrets
    readOnly: true
  - name: cdcd-state
    mountPath: /var/lib/cdcd
{{- end -}}

{{/* cdcd's volumes. */}}
{{- define "cdcd.volumes" -}}
- name: cdcd-config
  configMap:
    name: {{ include "cdcd.fullname" . }}
- name: cdcd-secrets
  secret:
    secretName: {{ include "cdcd.secretName" . }}
    defaultMode: 0440
- name: cdcd-state
  emptyDir:
    sizeLimit: {{ .Values.stateVolume.sizeLimit }}
{{- end -}}

{{/* The pod spec's common scheduling fields. */}}
{{- define "cdcd.scheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
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
{{- end -}}
