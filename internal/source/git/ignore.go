package git

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the per-directory ignore files read from a tree.
const IgnoreFile = ".sourceignore"

// Flux's default exclusions. VCS patterns always apply; the others apply
// unless spec.ignore is set, which replaces them.
const (
	excludeVCS   = ".git/,.gitignore,.gitmodules,.gitattributes"
	excludeExt   = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
	excludeCI    = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml"
	excludeExtra = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"
)

// maxIgnoreFileSize bounds how much of one .sourceignore file is read.
const maxIgnoreFileSize = 1 << 20

// DefaultExclusions returns Flux's default exclusion patterns, the VCS ones
// first.
func DefaultExclusions() []string {
	var out []string
	for _, s := range []string{excludeVCS, excludeExt, excludeCI, excludeExtra} {
		out = append(out, strings.Split(s, ",")...)
	}
	return out
}

// Filter decides which files of a checked-out tree go into the artifact.
type Filter struct {
	m gitignore.Matcher
}

// NewFilter builds the filter for the tree at root. Patterns, lowest
// priority first: the VCS exclusions; Flux's other default exclusions unless
// ignore is non-nil; every .sourceignore file in the tree, each scoped to its
// directory (shallower first); then ignore itself (spec.ignore, gitignore
// syntax), which can re-include paths with "!".
func NewFilter(root string, ignore *string) (*Filter, error) {
	var ps []gitignore.Pattern
	for _, p := range strings.Split(excludeVCS, ",") {
		ps = append(ps, gitignore.ParsePattern(p, nil))
	}
	if ignore == nil {
		for _, s := range []string{excludeExt, excludeCI, excludeExtra} {
			for _, p := range strings.Split(s, ",") {
				ps = append(ps, gitignore.ParsePattern(p, nil))
			}
		}
	}
	files, err := loadIgnoreFiles(root)
	if err != nil {
		return nil, err
	}
	ps = append(ps, files...)
	if ignore != nil {
		ps = append(ps, readPatterns([]byte(*ignore), nil)...)
	}
	return &Filter{m: gitignore.NewMatcher(ps)}, nil
}

// Excluded reports whether the slash-separated path rel, relative to the
// tree's root, is left out of the artifact.
func (f *Filter) Excluded(rel string, isDir bool) bool {
	rel = strings.Trim(filepath.ToSlash(rel), "/")
	if rel == "" || rel == "." {
		return false
	}
	return f.m.Match(strings.Split(rel, "/"), isDir)
}

// loadIgnoreFiles reads every .sourceignore under root, shallower
// directories first (filepath.WalkDir is lexical, which visits a directory
// before its children). Symlinks are not followed.
func loadIgnoreFiles(root string) ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Name() != IgnoreFile || !d.Type().IsRegular() {
			return nil
		}
		data, err := readLimited(path, maxIgnoreFileSize)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		var domain []string
		if rel != "." {
			domain = strings.Split(filepath.ToSlash(rel), "/")
		}
		ps = append(ps, readPatterns(data, domain)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s files: %w", IgnoreFile, err)
	}
	return ps, nil
}

func readPatterns(data []byte, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxIgnoreFileSize)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, limit)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// NewKeyFilter builds the filter of a Bucket's object keys, as Flux's Bucket source has it:
// the patterns of the bucket's root .sourceignore (rootIgnore, may be nil), then ignore
// (spec.ignore); no default exclusions.
func NewKeyFilter(rootIgnore []byte, ignore *string) *Filter {
	ps := readPatterns(rootIgnore, nil)
	if ignore != nil {
		ps = append(ps, readPatterns([]byte(*ignore), nil)...)
	}
	return &Filter{m: gitignore.NewMatcher(ps)}
}
