package build

import (
	"errors"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{
		"var": "abcdEFGH28ij", "empty": "", "path": "/home/bozo/ideas/thoughts.for.today",
		"file": "bash.string.txt", "z": "abcABC123ABCabc", "def": "foo", "slash": "foo/bar/baz",
	}
	tests := []struct {
		in, want string
		strict   bool
		wantErr  string
	}{
		{in: "plain text", want: "plain text"},
		{in: "${var}", want: "abcdEFGH28ij"},
		{in: "$var stays", want: "$var stays"},
		{in: "a $ b", want: "a $ b"},
		{in: "$${var}", want: "${var}"},
		{in: "$$var", want: "$var"},
		{in: "x ${var}$${var$${var}$var${var}", want: "x abcdEFGH28ij${var${var}$varabcdEFGH28ij"},
		{in: "${#var}", want: "12"},
		{in: "${var^}", want: "AbcdEFGH28ij"},
		{in: "${var^^}", want: "ABCDEFGH28IJ"},
		{in: "${var,}", want: "abcdEFGH28ij"},
		{in: "${var,,}", want: "abcdefgh28ij"},
		{in: "${path:11}", want: "ideas/thoughts.for.today"},
		{in: "${path:11:5}", want: "ideas"},
		{in: "${missing:=dflt}", want: "dflt"},
		{in: "${missing:-dflt}", want: "dflt"},
		{in: "${empty:=dflt}", want: "dflt"},
		{in: "${empty=dflt}", want: ""},
		{in: "${var:=dflt}", want: "abcdEFGH28ij"},
		{in: "${missing=${def}-suffix}", want: "foo-suffix"},
		{in: "${missing:=prefix${def}}", want: "prefixfoo"},
		{in: "${z/abc/xyz}", want: "xyzABC123ABCabc"},
		{in: "${z//abc/xyz}", want: "xyzABC123ABCxyz"},
		{in: "${z/#abc/XYZ}", want: "XYZABC123ABCabc"},
		{in: "${z/%abc/XYZ}", want: "abcABC123ABCXYZ"},
		{in: `${slash//\//-}`, want: "foo-bar-baz"},
		{in: "${file#*.}", want: "string.txt"},
		{in: "${file##*.}", want: "txt"},
		{in: "${file%.*}", want: "bash.string"},
		{in: "${file%%.*}", want: "bash"},
		{in: "${slash##*/}", want: "baz"},
		{in: "${missing}", want: ""},
		{in: "${missing}", strict: true, wantErr: "variable not set: missing"},
		{in: "${missing^^}", strict: true, wantErr: "variable not set: missing"},
		{in: "${missing:-ok}", strict: true, want: "ok"},
		{in: "${unterminated", wantErr: "unterminated"},
		{in: "${}", wantErr: "bad substitution"},
		{in: "${var:?nope}", wantErr: "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in, vars, tt.strict)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func obj(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSubstitute(t *testing.T) {
	const ns = `apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    env: ${cluster_env:=dev}
    region: "${cluster_region}"
`
	const disabled = `apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  run.sh: echo ${HOME}
`
	const replicas = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: ${replicas}
`
	tests := []struct {
		name    string
		objs    []string
		vars    Vars
		check   func(t *testing.T, objs []*unstructured.Unstructured)
		wantErr string
	}{
		{
			name: "inline wins over sources, later sources win",
			objs: []string{ns},
			vars: Vars{
				Substitute: map[string]string{"cluster_region": "eu-1"},
				From: []VarSource{
					{Kind: "ConfigMap", Name: "a", Found: true, Data: map[string]string{"cluster_env": "a", "cluster_region": "a"}},
					{Kind: "Secret", Name: "b", Found: true, Data: map[string]string{"cluster_env": "prod"}},
					{Kind: "ConfigMap", Name: "gone", Optional: true},
				},
			},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				l := objs[0].GetLabels()
				if l["env"] != "prod" || l["region"] != "eu-1" {
					t.Errorf("labels = %v", l)
				}
			},
		},
		{
			name: "no variables declared: nothing substituted",
			objs: []string{ns},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if r := objs[0].GetLabels()["region"]; r != "${cluster_region}" {
					t.Errorf("region = %q", r)
				}
			},
		},
		{
			name:    "strict: undefined variable names it",
			objs:    []string{ns},
			vars:    Vars{Substitute: map[string]string{"other": "x"}},
			wantErr: "Namespace/apps: variable not set: cluster_region",
		},
		{
			name: "non-strict: undefined variable is empty",
			objs: []string{ns},
			vars: Vars{Strategy: kustomizev1.SubstituteStrategyAlways, AllowUndefined: true},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if l := objs[0].GetLabels(); l["env"] != "dev" || l["region"] != "" {
					t.Errorf("labels = %v", l)
				}
			},
		},
		{
			name: "disabled object untouched",
			objs: []string{disabled},
			vars: Vars{Substitute: map[string]string{"HOME": "/root"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "run.sh"); v != "echo ${HOME}" {
					t.Errorf("run.sh = %q", v)
				}
			},
		},
		{
			name: "numbers become numbers",
			objs: []string{replicas},
			vars: Vars{Substitute: map[string]string{"replicas": "3"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if r, _, _ := unstructured.NestedInt64(objs[0].Object, "spec", "replicas"); r != 3 {
					t.Errorf("replicas = %v", objs[0].Object["spec"])
				}
			},
		},
		{
			name:    "missing required source",
			objs:    []string{ns},
			vars:    Vars{From: []VarSource{{Kind: "Secret", Name: "vars"}}},
			wantErr: "substituteFrom Secret/vars not found",
		},
		{
			name:    "invalid var name",
			objs:    []string{ns},
			vars:    Vars{Substitute: map[string]string{"bad-name": "x"}},
			wantErr: `var name "bad-name" is invalid`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []*unstructured.Unstructured
			for _, s := range tt.objs {
				objs = append(objs, obj(t, s))
			}
			err := Substitute(objs, tt.vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "variable not set") && !errors.Is(err, ErrUndefinedVar) {
					t.Fatalf("err = %v, want ErrUndefinedVar", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, objs)
		})
	}
}

func TestResolveExpandsInlineValuesFromSources(t *testing.T) {
	v := Vars{
		Substitute: map[string]string{"domain": "${domain}", "cluster_name": "${cluster_name}", "env": "prod-${undefined}"},
		From: []VarSource{{Kind: "ConfigMap", Name: "vars", Found: true,
			Data: map[string]string{"domain": "priv.cloud.ogenki.io", "cluster_name": "mycluster-0"}}},
	}
	got, err := v.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"domain": "priv.cloud.ogenki.io", "cluster_name": "mycluster-0", "env": "prod-${undefined}"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}
