package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxManifestSize bounds each file `migrate -f` reads.
const maxManifestSize = 64 << 20

// apiUpgrade is one apiVersion line of a manifest to rewrite to a newer version.
type apiUpgrade struct {
	// Line is the 0-based line of the apiVersion field.
	Line int
	Kind string
	// Group, From and To make the rewrite: Group/From becomes Group/To.
	Group, From, To string
}

// yamlField returns the value of a `key: value` line, its key's column, and whether the line
// is that field. A list item's dash ("- apiVersion: x") counts as indentation; quotes and a
// trailing comment are dropped from the value.
func yamlField(line, key string) (value string, col int, ok bool) {
	trimmed := strings.TrimLeft(line, " \t")
	col = len(line) - len(trimmed)
	if rest, isItem := strings.CutPrefix(trimmed, "- "); isItem {
		rest2 := strings.TrimLeft(rest, " ")
		col += 2 + len(rest) - len(rest2)
		trimmed = rest2
	}
	rest, found := strings.CutPrefix(trimmed, key+":")
	if !found {
		return "", 0, false
	}
	if i := strings.Index(rest, " #"); i >= 0 {
		rest = rest[:i]
	}
	value = strings.Trim(strings.TrimSpace(rest), `"'`)
	return value, col, value != ""
}

// detectUpgrades finds the apiVersion fields of data whose group and kind have a newer version
// in latest. The kind is read from the line just after or just before the apiVersion, at the
// same column, which is how manifests (and Helm templates) write them.
func detectUpgrades(data []byte, latest map[schema.GroupKind]string) []apiUpgrade {
	lines := strings.Split(string(data), "\n")
	var ups []apiUpgrade
	for i, line := range lines {
		av, col, ok := yamlField(line, "apiVersion")
		if !ok {
			continue
		}
		gv, err := schema.ParseGroupVersion(av)
		if err != nil || gv.Group == "" {
			continue
		}
		kind := ""
		for _, j := range []int{i + 1, i - 1} {
			if j < 0 || j >= len(lines) {
				continue
			}
			if k, kcol, ok := yamlField(lines[j], "kind"); ok && kcol == col {
				kind = k
				break
			}
		}
		if kind == "" {
			continue
		}
		to, ok := latest[schema.GroupKind{Group: gv.Group, Kind: kind}]
		if !ok || to == gv.Version {
			continue
		}
		ups = append(ups, apiUpgrade{Line: i, Kind: kind, Group: gv.Group, From: gv.Version, To: to})
	}
	return ups
}

// applyUpgrades rewrites the apiVersion lines of data; everything else, comments and layout
// included, stays as written.
func applyUpgrades(data []byte, ups []apiUpgrade) []byte {
	lines := strings.Split(string(data), "\n")
	for _, u := range ups {
		lines[u.Line] = strings.Replace(lines[u.Line], u.Group+"/"+u.From, u.Group+"/"+u.To, 1)
	}
	return []byte(strings.Join(lines, "\n"))
}

// fileUpgrades are the upgrades of one file, named relative to the migration root.
type fileUpgrades struct {
	Path     string
	Upgrades []apiUpgrade
}

// manifestTree is the directory (or the single file) `migrate -f` works on, opened as an
// os.Root so that nothing outside it is read or written.
type manifestTree struct {
	root *os.Root
	// display is the path the user gave, to name files in messages.
	display string
	// files are the candidate files, relative to root.
	files []string
	// skipped are the irregular files (symbolic links, devices) that matched an extension.
	skipped []string
}

// openManifestTree opens path (a directory, or one file) and lists the files whose names end
// in one of extensions.
func openManifestTree(path string, extensions []string) (*manifestTree, error) {
	path = filepath.Clean(path)
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("stat path %s: %w", path, err)
	}
	matches := func(name string) bool {
		for _, ext := range extensions {
			if strings.HasSuffix(name, ext) {
				return true
			}
		}
		return false
	}
	if !info.IsDir() {
		if !matches(path) {
			return nil, fmt.Errorf("file %s does not match the specified extensions: %s", path, strings.Join(extensions, ", "))
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("file %s is irregular", path)
		}
		root, err := os.OpenRoot(filepath.Dir(path))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", filepath.Dir(path), err)
		}
		return &manifestTree{root: root, display: filepath.Dir(path), files: []string{filepath.Base(path)}}, nil
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	t := &manifestTree{root: root, display: path}
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !matches(p) {
			return nil
		}
		if d.Type().IsRegular() {
			t.files = append(t.files, p)
		} else {
			t.skipped = append(t.skipped, p)
		}
		return nil
	})
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("walk directory %s: %w", path, err)
	}
	sort.Strings(t.files)
	return t, nil
}

// name is how messages name a file of the tree.
func (t *manifestTree) name(p string) string { return filepath.Join(t.display, p) }

func (t *manifestTree) read(p string) ([]byte, error) {
	f, err := t.root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read file %s: %w", t.name(p), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read file %s: %w", t.name(p), err)
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("read file %s: larger than %d bytes", t.name(p), maxManifestSize)
	}
	return data, nil
}

// detect returns the upgrades of every file, in file order.
func (t *manifestTree) detect(latest map[schema.GroupKind]string) ([]fileUpgrades, error) {
	var all []fileUpgrades
	for _, p := range t.files {
		data, err := t.read(p)
		if err != nil {
			return nil, err
		}
		if ups := detectUpgrades(data, latest); len(ups) > 0 {
			all = append(all, fileUpgrades{Path: p, Upgrades: ups})
		}
	}
	return all, nil
}

// write rewrites one file in place: a temporary file beside it, with the same mode, renamed
// over it, so that a failure never leaves half a file.
func (t *manifestTree) write(fu fileUpgrades) error {
	data, err := t.read(fu.Path)
	if err != nil {
		return err
	}
	info, err := t.root.Stat(fu.Path)
	if err != nil {
		return fmt.Errorf("stat file %s: %w", t.name(fu.Path), err)
	}
	tmp := fu.Path + ".weir-migrate"
	if err := t.root.WriteFile(tmp, applyUpgrades(data, fu.Upgrades), info.Mode().Perm()); err != nil {
		return fmt.Errorf("write file %s: %w", t.name(fu.Path), err)
	}
	if err := t.root.Chmod(tmp, info.Mode().Perm()); err != nil {
		_ = t.root.Remove(tmp)
		return fmt.Errorf("write file %s: %w", t.name(fu.Path), err)
	}
	if err := t.root.Rename(tmp, fu.Path); err != nil {
		_ = t.root.Remove(tmp)
		return fmt.Errorf("write file %s: %w", t.name(fu.Path), err)
	}
	return nil
}

func (t *manifestTree) close() error { return t.root.Close() }
