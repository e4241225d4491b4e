package artifact

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// GC removes obj's old artifacts and returns the store-relative paths it
// removed. The file of current (a Record's Path) is always kept; of the
// others, the newest RetentionRecords-1 are kept while younger than
// RetentionTTL, as in Flux. Stale temporary files older than the TTL go too.
func (s *Store) GC(ctx context.Context, obj Object, current string) ([]string, error) {
	dirRel, err := obj.dir()
	if err != nil {
		return nil, err
	}
	dir, err := s.localPath(dirRel)
	if err != nil {
		return nil, err
	}
	unlock := s.lock(obj)
	defer unlock()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc %s: %w", obj, err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !e.Type().IsRegular() || path.Join(dirRel, e.Name()) == current {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, file{e.Name(), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	now := s.now()
	var removed []string
	kept := 1 // the current artifact
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		young := now.Sub(f.mod) <= s.ttl
		if !strings.HasPrefix(f.name, ".") && young && kept < s.records {
			kept++
			continue
		}
		if strings.HasPrefix(f.name, ".") && young {
			continue // a temporary file that may still be being written
		}
		if err := os.Remove(filepath.Join(dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("gc %s: %w", obj, err)
		}
		removed = append(removed, path.Join(dirRel, f.name))
	}
	return removed, nil
}

// Delete removes every artifact of obj.
func (s *Store) Delete(ctx context.Context, obj Object) error {
	dirRel, err := obj.dir()
	if err != nil {
		return err
	}
	dir, err := s.localPath(dirRel)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := s.lock(obj)
	defer unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete artifacts of %s: %w", obj, err)
	}
	return nil
}
