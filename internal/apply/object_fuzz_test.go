package apply

import "testing"

// FuzzParseID checks ParseID over any inventory id (ids are read back from the
// Kustomization's status, which anyone who can patch it writes): never a panic, an error or an
// identity with a name and a kind that ID writes back so that it parses to the same identity.
//
// The package's TestMain starts a control plane, so `make fuzz` does not fuzz this target; its
// seeds and corpus run as unit tests in `make test`.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"default_podinfo_apps_Deployment", "default_podinfo__Service",
		"_system__controller_rbac.authorization.k8s.io_ClusterRole", "_a_b", "a_b_c_d_e", "____", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		o, err := ParseID(id)
		if err != nil {
			return
		}
		if o.Name == "" || o.Kind == "" {
			t.Fatalf("ParseID(%q) = %+v, without a name or kind", id, o)
		}
		again, err := ParseID(o.ID())
		if err != nil || again != o {
			t.Fatalf("ParseID(%q) = %+v, whose ID %q parses as %+v, %v", id, o, o.ID(), again, err)
		}
	})
}
