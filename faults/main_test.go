//go:build faults

// Package faults_test is weir's fault and attack suite (`make test-faults`): hostile
// repositories and artifacts, forbidden reach, secrets, hostile field values, outages, crashes
// and contention, each case against a real control plane and a real `weir controller` process
// built with the `faults` tag (internal/faultpoint), each with an oracle: the canary never
// leaks, the last good state is kept while the fault lasts, the object says precisely what is
// wrong within a deadline, resources stay bounded, and weir recovers once the fault is gone.
package faults_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/testenv"
)

var (
	env *testenv.Env
	// weirBin is weir built with the faults tag: its fault points can crash it on demand.
	weirBin string
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "weir-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	weirBin = filepath.Join(dir, "weir")
	build := exec.Command("go", "build", "-tags", "faults", "-o", weirBin, "github.com/weirgitops/weir/cmd/weir")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build weir:", err)
		os.Exit(1)
	}
	code := testenv.Run(m, testenv.Options{ControllerManager: true}, &env)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
