package features

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, spec string
		want       map[string]bool
		wantErr    string
	}{
		{name: "defaults", spec: "", want: map[string]bool{CancelHealthCheckOnNewRevision: true, StrictPostBuildSubstitutions: true, DisableFailFastBehavior: false}},
		{name: "flux flags carry over", spec: "CancelHealthCheckOnNewRevision=false, DisableFailFastBehavior=true,OOMWatch=true",
			want: map[string]bool{CancelHealthCheckOnNewRevision: false, DisableFailFastBehavior: true, "OOMWatch": true, StrictPostBuildSubstitutions: true}},
		{name: "unknown gate", spec: "NoSuchGate=true", wantErr: `unknown feature gate "NoSuchGate"`},
		{name: "not a boolean", spec: "GroupChangeLog=maybe", wantErr: "is not a boolean"},
		{name: "no value", spec: "GroupChangeLog", wantErr: "want Name=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Parse(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if g.Enabled(name) != want {
					t.Errorf("%s = %v, want %v", name, g.Enabled(name), want)
				}
			}
		})
	}
	var none Gates
	if !none.Enabled(CancelHealthCheckOnNewRevision) || none.Enabled(DisableFailFastBehavior) {
		t.Error("nil Gates do not have the defaults")
	}
}
