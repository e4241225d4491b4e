package gitserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Standalone is a T for programs that run the Git servers outside a test, such as the demo
// and the benchmark harness: Fatal aborts the step run by Do, and cleanups run on Close. It is
// safe for concurrent steps.
type Standalone struct {
	dir      string
	mu       sync.Mutex
	cleanups []func()
	n        int
}

// NewStandalone returns a Standalone whose temporary directories live under dir.
func NewStandalone(dir string) *Standalone { return &Standalone{dir: dir} }

type fatal struct{ msg string }

// Helper is a no-op: there is no test log to attribute lines in.
func (s *Standalone) Helper() {}

// Fatal aborts the current step with the given message.
func (s *Standalone) Fatal(args ...any) { panic(fatal{fmt.Sprint(args...)}) }

// Fatalf aborts the current step with the formatted message.
func (s *Standalone) Fatalf(format string, args ...any) {
	panic(fatal{fmt.Sprintf(format, args...)})
}

// Cleanup registers f to run, last registered first, on Close.
func (s *Standalone) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// TempDir returns a new directory under the Standalone's directory.
func (s *Standalone) TempDir() string {
	s.mu.Lock()
	s.n++
	dir := filepath.Join(s.dir, fmt.Sprintf("%03d", s.n))
	s.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.Fatal(err)
	}
	return dir
}

// Do runs f and turns a Fatal inside it into an error.
func (s *Standalone) Do(f func()) (err error) {
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

// Close runs the registered cleanups.
func (s *Standalone) Close() {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
