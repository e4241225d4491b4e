package cli_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestControllerStopsCleanlyOnSIGTERM runs `weir controller` as a process from a kubeconfig,
// waits until it is ready, sends SIGTERM and expects exit code 0.
func TestControllerStopsCleanlyOnSIGTERM(t *testing.T) {
	health, metrics := freePort(t), freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(weirBin, "controller",
		"--kubeconfig", env.Kubeconfig,
		"--health-addr", health, "--metrics-addr", metrics,
		"--storage-addr", freePort(t), "--receiver-addr", freePort(t),
		"--storage-path", t.TempDir(), "--log-encoding", "console",
		"--enable-leader-election",
	)
	cmd.Env = append(cmd.Environ(), "RUNTIME_NAMESPACE=default")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	testenv.Eventually(t, 60*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("controller exited early: %v\n%s", err, logs.String())
		default:
		}
		code, err := testenv.HTTPGet(t.Context(), "http://"+health+"/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("readyz: %d", code)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("controller exited with %v after SIGTERM, want 0\n%s", err, logs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("controller did not exit within 45s of SIGTERM\n%s", logs.String())
	}
}
