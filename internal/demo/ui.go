package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/testenv"
)

// uiStage shows the web UI the controller serves: a ServiceAccount's token signs in, and the
// overview the browser would show is read from its API.
func uiStage(ctx context.Context, out io.Writer, env *testenv.Env, addr string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "demo-viewer"}}
	if err := env.Client.Create(ctx, sa); err != nil {
		return err
	}
	tr := &authenticationv1.TokenRequest{}
	if err := env.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
		return err
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	base := "http://" + addr
	resp, err := c.Post(base+"/api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, tr.Status.Token)))
	if err != nil {
		return fmt.Errorf("sign in to the UI: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sign in to the UI: status %d", resp.StatusCode)
	}
	var overview struct {
		Counts []struct {
			Kind   string
			Total  int
			States map[string]int
		}
		Attention []struct{ Kind, Namespace, Name string }
	}
	return poll(ctx, 30*time.Second, func() error {
		resp, err := c.Get(base + "/api/overview")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if err := json.NewDecoder(resp.Body).Decode(&overview); err != nil {
			return err
		}
		var parts []string
		for _, k := range overview.Counts {
			if k.Total > 0 {
				parts = append(parts, fmt.Sprintf("%d %s (%d ready)", k.Total, k.Kind, k.States["ready"]))
			}
		}
		if len(parts) == 0 {
			return fmt.Errorf("the UI shows no objects yet")
		}
		fmt.Fprintf(out, "\n► web UI at %s (sign in with: kubectl -n flux-system create token demo-viewer)\n", base)
		fmt.Fprintf(out, "✔ its overview: %s; %d need attention\n", strings.Join(parts, ", "), len(overview.Attention))
		return nil
	})
}

// poll calls cond until it succeeds or timeout passes, returning its last error.
func poll(ctx context.Context, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
