package ui_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/oidcprovider"
	"github.com/weirgitops/weir/internal/ui"
)

// TestUIOIDCSignIn signs in through an OpenID Connect provider (a real HTTP stand-in): the ID
// token's claims become the Kubernetes user and groups, and the group's RBAC decides whether
// the user may suspend.
func TestUIOIDCSignIn(t *testing.T) {
	ns := env.Namespace(t)
	p := oidcprovider.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	srv, err := ui.New(t.Context(), ui.Options{Reader: env.Client, APIReader: env.Client, Client: env.Client, Config: env.Config,
		OIDC: &ui.OIDC{IssuerURL: p.URL, ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: base + "/auth/oidc/callback",
			UsernamePrefix: "oidc:", GroupsPrefix: "oidc:"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })

	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: kustomizev1.KustomizationSpec{
		Interval: metav1.Duration{Duration: time.Hour}, Path: "./", Suspend: true,
		SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "none"}}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ops"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"kustomize.toolkit.fluxcd.io"}, Resources: []string{"kustomizations"}, Verbs: []string{"get", "patch"}}}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ops"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ops"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "oidc:platform"}}}
	for _, o := range []client.Object{ks, role, rb} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}

	signIn := func(claims map[string]any) (*http.Client, string) {
		p.SetUser(claims)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		resp, err := c.Get(base + "/auth/oidc/login")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		var s struct {
			SignedIn bool
			User     string
			CSRF     string
		}
		getJSON(t, c, base+"/api/session", &s)
		if !s.SignedIn {
			t.Fatalf("not signed in after the OIDC flow (last status %d)", resp.StatusCode)
		}
		if want := "oidc:" + claims["email"].(string); s.User != want {
			t.Errorf("user %q, want %q", s.User, want)
		}
		return c, s.CSRF
	}
	resume := func(c *http.Client, csrf string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/action",
			strings.NewReader(fmt.Sprintf(`{"kind":"Kustomization","namespace":%q,"name":"apps","action":"resume"}`, ns)))
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	c, csrf := signIn(map[string]any{"sub": "u1", "email": "bob@example.com", "groups": []string{"developers"}})
	if code := resume(c, csrf); code != http.StatusForbidden {
		t.Errorf("resume by a user outside the group: %d, want 403", code)
	}
	c, csrf = signIn(map[string]any{"sub": "u2", "email": "alice@example.com", "groups": []string{"platform"}})
	if code := resume(c, csrf); code != http.StatusOK {
		t.Fatalf("resume by a member of oidc:platform: %d, want 200", code)
	}
	var got kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ks), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Suspend {
		t.Error("the resume was not done")
	}
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}
