{{/* The chart's name. */}}
{{- define "auditstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release name, with the chart's name unless it contains it. */}}
{{- define "auditstream.fullname" -}}
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

{{- define "auditstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "auditstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "auditstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auditstream
{{- end }}

{{- define "auditstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auditstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "auditstream.secretName" -}}
{{- default (printf "%s-secrets" (include "auditstream.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The Deployments to run, as YAML {instances: [...]}: one per role, and for the role sink
one per entry of sink.perSink when it is set. Each instance: name (the component label
and the suffix of the objects' names), role (the subcommand and the values key), sink
(for --sink), replicas, resources.
*/}}
{{- define "auditstream.instances" -}}
instances:
{{- range $role := list "poll" "normalize" "sink" }}
{{- $rv := index $.Values $role }}
{{- if $rv.enabled }}
{{- if and (eq $role "sink") $rv.perSink }}
{{- range $s := $rv.perSink }}
  - name: {{ printf "sink-%s" $s.name | quote }}
    role: sink
    sink: {{ required "sink.perSink[].name is required" $s.name | quote }}
    replicas: {{ hasKey $s "replicas" | ternary $s.replicas $rv.replicas }}
    resources: {{ default $rv.resources $s.resources | toJson }}
{{- end }}
{{- else }}
  - name: {{ $role }}
    role: {{ $role }}
    replicas: {{ $rv.replicas }}
    resources: {{ $rv.resources | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
