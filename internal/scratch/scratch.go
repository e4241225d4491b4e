package scratch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// prefix starts the name of every directory this package makes.
const prefix = "weir-scratch-"

// lockName is the lock file in each directory.
const lockName = ".lock"

// Dir is a process' own temporary directory, held until Close.
type Dir struct {
	path string
	lock *os.File
}

// New removes the directories under parent whose processes ended, then makes and holds a
// fresh one.
func New(parent string) (*Dir, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	sweep(parent)
	p, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", prefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(p, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		if lerr := lock(f); !errors.Is(lerr, errors.ErrUnsupported) {
			err = lerr
		}
	}
	if err != nil {
		_ = os.RemoveAll(p)
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	return &Dir{path: p, lock: f}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// Close removes the directory and releases it.
func (d *Dir) Close() error {
	err := os.RemoveAll(d.path)
	_ = d.lock.Close()
	return err
}

// sweep removes parent's scratch directories that no process holds. A directory it cannot
// tell about (no lock file yet: being made right now) is left alone.
func sweep(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		f, err := os.OpenFile(filepath.Join(p, lockName), os.O_RDWR|noFollow, 0)
		if err != nil {
			continue
		}
		if lock(f) == nil {
			_ = os.RemoveAll(p)
		}
		_ = f.Close()
	}
}
