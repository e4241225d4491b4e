package cli

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDetectUpgrades(t *testing.T) {
	latest := map[schema.GroupKind]string{
		{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}: "v1",
		{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository"}:    "v1",
		{Group: "image.toolkit.fluxcd.io", Kind: "ImagePolicy"}:       "v1",
	}
	cases := []struct {
		name, in, out string
		want          []apiUpgrade
	}{
		{
			name: "kind after apiVersion",
			in:   "apiVersion: kustomize.toolkit.fluxcd.io/v1beta2\nkind: Kustomization\nmetadata:\n  name: apps\n",
			out:  "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n",
			want: []apiUpgrade{{Line: 0, Kind: "Kustomization", Group: "kustomize.toolkit.fluxcd.io", From: "v1beta2", To: "v1"}},
		},
		{
			name: "kind before apiVersion, quoted, with a comment",
			in:   "kind: GitRepository\napiVersion: \"source.toolkit.fluxcd.io/v1beta2\" # old\n",
			out:  "kind: GitRepository\napiVersion: \"source.toolkit.fluxcd.io/v1\" # old\n",
			want: []apiUpgrade{{Line: 1, Kind: "GitRepository", Group: "source.toolkit.fluxcd.io", From: "v1beta2", To: "v1"}},
		},
		{
			name: "list items",
			in:   "items:\n  - apiVersion: image.toolkit.fluxcd.io/v1beta2\n    kind: ImagePolicy\n  - apiVersion: v1\n    kind: ConfigMap\n",
			out:  "items:\n  - apiVersion: image.toolkit.fluxcd.io/v1\n    kind: ImagePolicy\n  - apiVersion: v1\n    kind: ConfigMap\n",
			want: []apiUpgrade{{Line: 1, Kind: "ImagePolicy", Group: "image.toolkit.fluxcd.io", From: "v1beta2", To: "v1"}},
		},
		{
			name: "already current, other kinds and a nested kind at another column",
			in:   "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n---\napiVersion: apps/v1\nkind: Deployment\n---\napiVersion: source.toolkit.fluxcd.io/v1beta2\nspec:\n  kind: GitRepository\n",
		},
		{
			name: "a Helm template",
			in:   "{{- if .Values.flux }}\napiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: GitRepository\nmetadata:\n  name: {{ .Release.Name }}\n{{- end }}",
			out:  "{{- if .Values.flux }}\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {{ .Release.Name }}\n{{- end }}",
			want: []apiUpgrade{{Line: 1, Kind: "GitRepository", Group: "source.toolkit.fluxcd.io", From: "v1beta2", To: "v1"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := detectUpgrades([]byte(tc.in), latest)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("upgrades = %+v, want %+v", got, tc.want)
			}
			if tc.want == nil {
				return
			}
			if out := string(applyUpgrades([]byte(tc.in), got)); out != tc.out {
				t.Errorf("rewritten:\n%s\nwant:\n%s", out, tc.out)
			}
		})
	}
}

func TestFluxAPIVersions(t *testing.T) {
	order, table, err := fluxAPIVersions()
	if err != nil {
		t.Fatal(err)
	}
	if order[0] != currentFluxVersion {
		t.Errorf("newest version %s, want %s", order[0], currentFluxVersion)
	}
	cur := table[currentFluxVersion]
	for gk, want := range map[schema.GroupKind]string{
		{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository"}:        "v1",
		{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease"}:            "v2",
		{Group: "notification.toolkit.fluxcd.io", Kind: "Alert"}:          "v1beta3",
		{Group: "image.toolkit.fluxcd.io", Kind: "ImageUpdateAutomation"}: "v1",
		{Group: "source.toolkit.fluxcd.io", Kind: "ExternalArtifact"}:     "v1",
		{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}:     "v1",
		{Group: "notification.toolkit.fluxcd.io", Kind: "Receiver"}:       "v1",
		{Group: "image.toolkit.fluxcd.io", Kind: "ImagePolicy"}:           "v1",
		{Group: "notification.toolkit.fluxcd.io", Kind: "Provider"}:       "v1beta3",
		{Group: "source.toolkit.fluxcd.io", Kind: "OCIRepository"}:        "v1",
		{Group: "source.toolkit.fluxcd.io", Kind: "HelmChart"}:            "v1",
		{Group: "source.toolkit.fluxcd.io", Kind: "Bucket"}:               "v1",
		{Group: "source.toolkit.fluxcd.io", Kind: "HelmRepository"}:       "v1",
		{Group: "image.toolkit.fluxcd.io", Kind: "ImageRepository"}:       "v1",
	} {
		if cur[gk] != want {
			t.Errorf("%s: %q, want %q", gk, cur[gk], want)
		}
	}
	if v := table["2.6"][schema.GroupKind{Group: "image.toolkit.fluxcd.io", Kind: "ImagePolicy"}]; v != "v1beta2" {
		t.Errorf("2.6 ImagePolicy: %q, want v1beta2", v)
	}
}
