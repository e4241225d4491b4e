package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// KubernetesVersion is the Kubernetes release tools/envtest builds.
const KubernetesVersion = "v1.32.3"

var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}

// RepoRoot returns the root of the weir checkout, found by walking up from the working
// directory to the go.mod of module github.com/weirgitops/weir.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && containsModule(data, "module github.com/weirgitops/weir\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the weir checkout")
		}
		dir = parent
	}
}

func containsModule(gomod []byte, line string) bool {
	return len(gomod) >= len(line) && string(gomod[:len(line)]) == line
}

// AssetsDir returns the directory holding the control-plane binaries: $KUBEBUILDER_ASSETS
// when set, else the per-version cache under $WEIR_CACHE_DIR (default ~/.cache/weir).
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	base := os.Getenv("WEIR_CACHE_DIR")
	if base == "" {
		home, err := os.UserCacheDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, "weir")
	}
	return filepath.Join(base, "envtest", KubernetesVersion)
}

// EnsureAssets returns the binaries' directory, building them from tools/envtest first when
// they are missing. Concurrent callers (parallel test packages) wait on one build.
func EnsureAssets(ctx context.Context) (string, error) {
	dir := AssetsDir()
	if haveAll(dir) {
		return dir, nil
	}
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s lacks one of %v", dir, binaries)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close too
	if haveAll(dir) {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	cmd.Dir = filepath.Join(root, "tools", "envtest")
	cmd.Env = append(os.Environ(), "GONOSUMDB=k8s.io", "GOFLAGS=-mod=mod")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build control-plane binaries in tools/envtest: %w", err)
	}
	return dir, nil
}

func haveAll(dir string) bool {
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// Kubectl returns the path of the kubectl built with the control plane.
func Kubectl() string { return filepath.Join(AssetsDir(), "kubectl") }
