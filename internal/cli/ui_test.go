package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestUICommand runs weir ui as a workstation does: the printed URL's one-time token opens a
// session as the kubeconfig user, whose RBAC (here an administrator) allows a reconcile; a
// request without it is refused.
func TestUICommand(t *testing.T) {
	ns := env.Namespace(t)
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: kustomizev1.KustomizationSpec{
		Interval: metav1.Duration{Duration: time.Hour}, Path: "./", Suspend: true,
		SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "none"}}}
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, weirBin, "--kubeconfig", env.Kubeconfig, "ui", "--no-open", "--address", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the UI's URL: %v", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "► weir UI at "))
	base := strings.SplitN(url, "/?", 2)[0]

	plain := &http.Client{Timeout: 10 * time.Second}
	resp, err := plain.Get(base + "/api/overview")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the URL's token: %d, want 401", resp.StatusCode)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err = c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var s struct {
		SignedIn, Local bool
		User, CSRF      string
	}
	uiGet(t, c, base+"/api/session", &s)
	if !s.SignedIn || !s.Local || s.CSRF == "" {
		t.Fatalf("session after the URL's token: %+v", s)
	}
	var list struct {
		Items []struct{ Name, State string }
	}
	uiGet(t, c, base+"/api/objects?kind=Kustomization", &list)
	found := false
	for _, i := range list.Items {
		found = found || (i.Name == "apps" && i.State == "suspended")
	}
	if !found {
		t.Errorf("the list lacks the suspended Kustomization: %+v", list)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/action",
		strings.NewReader(fmt.Sprintf(`{"kind":"Kustomization","namespace":%q,"name":"apps","action":"resume"}`, ns)))
	req.Header.Set("X-CSRF-Token", s.CSRF)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resume as the kubeconfig user: %d %s", resp.StatusCode, body)
	}
	var got kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ks), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Suspend {
		t.Error("resume did not unsuspend the Kustomization")
	}
}

func uiGet(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
