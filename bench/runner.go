package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// runner lets the harness use the test Git servers outside a test (gitserver.T): Fatal aborts
// the step that called it, and cleanups run when the harness closes the cluster. It is the
// demo's runner, made safe for concurrent steps.
type runner struct {
	dir      string
	mu       sync.Mutex
	cleanups []func()
	n        int
}

type fatal struct{ msg string }

// Helper is a no-op: there is no test log to attribute lines in.
func (r *runner) Helper() {}

// Fatal aborts the current step with the given message.
func (r *runner) Fatal(args ...any) { panic(fatal{fmt.Sprint(args...)}) }

// Fatalf aborts the current step with the formatted message.
func (r *runner) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }

// Cleanup registers f to run, last registered first, when the harness closes.
func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TempDir returns a new directory under the runner's directory.
func (r *runner) TempDir() string {
	r.mu.Lock()
	r.n++
	dir := filepath.Join(r.dir, fmt.Sprintf("%03d", r.n))
	r.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Fatal(err)
	}
	return dir
}

// do runs f and turns a Fatal inside it into an error.
func (r *runner) do(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(fatal); ok {
				err = errors.New(f.msg)
				return
			}
			panic(p)
		}
	}()
	f()
	return nil
}

func (r *runner) cleanup() {
	r.mu.Lock()
	cs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
