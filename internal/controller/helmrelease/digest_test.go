package helmrelease

import "testing"

// TestConfigDigestIsFlux: the values digests are Flux's (published test vectors of
// helm-controller's DigestValues), so status written by either controller reads the same.
func TestConfigDigestIsFlux(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"empty", map[string]any{}, "sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"},
		{"nil is empty", nil, "sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"},
		{"map", map[string]any{"foo": "bar", "baz": map[string]any{"cool": "stuff"}},
			"sha256:3f3641788a2d4abda3534eaa90c90b54916e4c6e3a5b2e1b24758b7bfa701ecd"},
	}
	for _, c := range cases {
		if got := configDigest(c.values); got != c.want {
			t.Errorf("%s: configDigest = %s, want %s", c.name, got, c.want)
		}
	}
	if snapshotConfigDigest(map[string]any{}) == configDigest(map[string]any{}) {
		t.Error("a snapshot of a release without values digests as nil, not as {}")
	}
}
