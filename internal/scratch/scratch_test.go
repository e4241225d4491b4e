package scratch

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNewSweepsOnlyUnheldDirectories: a directory whose owner ended (its lock free) goes, one
// still held (another Dir of this process) and anything not weir's stay.
func TestNewSweepsOnlyUnheldDirectories(t *testing.T) {
	parent := t.TempDir()
	held, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	dead := filepath.Join(parent, prefix+"1234-dead")
	other := filepath.Join(parent, "gitrepository-1")
	for _, d := range []string{dead, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dead, lockName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead process' directory is still there: %v", err)
	}
	for _, p := range []string{held.Path(), other, d.Path()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path()); !os.IsNotExist(err) {
		t.Errorf("Close left %s", d.Path())
	}
}
