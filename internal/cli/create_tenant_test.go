package cli_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestCreateTenantExport(t *testing.T) {
	out, errOut, code := weir(t, nil, "create", "tenant", "dev-team", "--with-namespace=frontend",
		"--with-namespace=backend", "--label=environment=dev", "--cluster-role=edit", "--export")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "create_tenant.golden", "\x00", out)
}

func TestCreateTenantInvalid(t *testing.T) {
	for name, args := range map[string][]string{
		"no namespace":      {"create", "tenant", "team", "--export"},
		"invalid namespace": {"create", "tenant", "team", "--with-namespace=Not_Valid", "--export"},
		"invalid name":      {"create", "tenant", "-team-", "--with-namespace=a", "--export"},
		"empty role":        {"create", "tenant", "team", "--with-namespace=a", "--cluster-role=", "--export"},
	} {
		t.Run(name, func(t *testing.T) {
			out, _, code := weir(t, nil, args...)
			if code == 0 {
				t.Errorf("exit 0, want an error:\n%s", out)
			}
		})
	}
}

func TestCreateTenantApply(t *testing.T) {
	ns1, ns2 := env.Namespace(t), env.Namespace(t)
	out, errOut, code := weir(t, nil, "create", "tenant", "team-a", "--with-namespace", ns1+","+ns2, "--label", "env=dev")
	if code != 0 || !strings.Contains(out, "► applying role binding team-a-reconciler") || !strings.HasSuffix(out, "✔ tenant setup completed\n") {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	ctx := t.Context()
	for _, ns := range []string{ns1, ns2} {
		var n corev1.Namespace
		if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
			t.Fatal(err)
		}
		if n.Labels["toolkit.fluxcd.io/tenant"] != "team-a" || n.Labels["env"] != "dev" {
			t.Errorf("namespace %s labels = %v", ns, n.Labels)
		}
		var sa corev1.ServiceAccount
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "team-a"}, &sa); err != nil {
			t.Fatal(err)
		}
		var rb rbacv1.RoleBinding
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "team-a-reconciler"}, &rb); err != nil {
			t.Fatal(err)
		}
		if rb.RoleRef.Name != "cluster-admin" || len(rb.Subjects) != 2 || rb.Subjects[0].Name != "gotk:"+ns+":reconciler" ||
			rb.Subjects[1].Kind != "ServiceAccount" || rb.Subjects[1].Name != "team-a" || rb.Subjects[1].Namespace != ns {
			t.Errorf("role binding in %s: roleRef %+v subjects %+v", ns, rb.RoleRef, rb.Subjects)
		}
	}

	// roleRef cannot change in place: the binding is replaced.
	if out, errOut, code := weir(t, nil, "create", "tenant", "team-a", "--with-namespace", ns1, "--cluster-role", "view"); code != 0 {
		t.Fatalf("change role: exit %d:\n%s%s", code, out, errOut)
	}
	var rb rbacv1.RoleBinding
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns1, Name: "team-a-reconciler"}, &rb); err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Name != "view" {
		t.Errorf("roleRef = %+v, want view", rb.RoleRef)
	}
}
