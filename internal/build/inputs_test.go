package build

import "testing"

// TestInputsTrackWhatTheBuildReached checks that a change outside the app's tree and its
// bases leaves the digest alone, while a change to the app, its base or a new file in the
// app's directory changes it.
func TestInputsTrackWhatTheBuildReached(t *testing.T) {
	cm := func(name, v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  v: \"" + v + "\"\n"
	}
	base := map[string]string{
		"base/kustomization.yaml":  "resources:\n- cm.yaml\n",
		"base/cm.yaml":             cm("base", "1"),
		"app-1/kustomization.yaml": "resources:\n- ../base\n- cm.yaml\n",
		"app-1/cm.yaml":            cm("app-1", "1"),
		"app-2/cm.yaml":            cm("app-2", "1"),
	}
	digest := func(files map[string]string, change map[string]string) string {
		t.Helper()
		merged := map[string]string{}
		for k, v := range files {
			merged[k] = v
		}
		for k, v := range change {
			merged[k] = v
		}
		root := writeTree(t, merged)
		var in Inputs
		if _, err := Build(t.Context(), root, "app-1", Options{Inputs: &in}); err != nil {
			t.Fatal(err)
		}
		d, err := in.Digest(root)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest(base, nil)
	cases := []struct {
		name    string
		change  map[string]string
		changed bool
	}{
		{"another app changed", map[string]string{"app-2/cm.yaml": cm("app-2", "2")}, false},
		{"unrelated file added", map[string]string{"docs/readme.md": "hello"}, false},
		{"the app changed", map[string]string{"app-1/cm.yaml": cm("app-1", "2")}, true},
		{"its base changed", map[string]string{"base/cm.yaml": cm("base", "2")}, true},
		{"a file added to the app", map[string]string{"app-1/extra.yaml": cm("extra", "1")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := digest(base, tc.change) != first; got != tc.changed {
				t.Errorf("digest changed = %v, want %v", got, tc.changed)
			}
		})
	}
}
