package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

var (
	env     *testenv.Env
	weirBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	weirBin = filepath.Join(dir, "weir")
	build := exec.Command("go", "build", "-o", weirBin, "github.com/weirgitops/weir/cmd/weir")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build weir:", err)
		os.Exit(1)
	}
	code := testenv.Run(m, testenv.Options{ControllerManager: true}, &env)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// weir runs the weir binary against the test control plane and returns its stdout, stderr
// and exit code.
func weir(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, weirBin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run weir %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
