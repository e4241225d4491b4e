{{/* The flux2 per-controller value blocks that weir's one Deployment folds in. */}}
{{- define "weir.controllers" -}}
sourceController kustomizeController helmController notificationController imageAutomationController imageReflectionController
{{- end -}}

{{- define "weir.labels" -}}
app.kubernetes.io/instance: {{ .Release.Namespace }}
app.kubernetes.io/part-of: weir
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "weir.image" -}}
{{ .Values.image }}:{{ .Values.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "weir.additionalArgs" -}}
{{- $args := .Values.container.additionalArgs | default list -}}
{{- range $c := splitList " " (include "weir.controllers" .) -}}
{{- with (index $.Values $c) -}}{{- with .container -}}{{- $args = concat $args (.additionalArgs | default list) -}}{{- end -}}{{- end -}}
{{- end -}}
{{- toYaml ($args | uniq) -}}
{{- end -}}

{{- define "weir.tolerations" -}}
{{- $t := .Values.tolerations | default list -}}
{{- range $c := splitList " " (include "weir.controllers" .) -}}
{{- with (index $.Values $c) -}}{{- $t = concat $t (.tolerations | default list) -}}{{- end -}}
{{- end -}}
{{- toYaml ($t | uniq) -}}
{{- end -}}

{{- define "weir.nodeSelector" -}}
{{- $n := deepCopy (.Values.nodeSelector | default dict) -}}
{{- range $c := splitList " " (include "weir.controllers" .) -}}
{{- with (index $.Values $c) -}}{{- $n = merge $n (.nodeSelector | default dict) -}}{{- end -}}
{{- end -}}
{{- toYaml $n -}}
{{- end -}}

{{- define "weir.imagePullSecrets" -}}
{{- $s := .Values.imagePullSecrets | default list -}}
{{- range $c := splitList " " (include "weir.controllers" .) -}}
{{- with (index $.Values $c) -}}{{- $s = concat $s (.imagePullSecrets | default list) -}}{{- end -}}
{{- end -}}
{{- toYaml ($s | uniq) -}}
{{- end -}}
