package setters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/weirgitops/weir/internal/safeyaml"
)

// Token is what a file must contain to be looked at, as Flux.
const Token = `"$imagepolicy"`

// MaxFileSize bounds the YAML files read.
const MaxFileSize = 4 << 20

// Image is what a policy selected.
type Image struct {
	Name, Tag, Digest string
}

// Ref is the full reference name:tag[@digest].
func (i Image) Ref() string {
	s := i.Name + ":" + i.Tag
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// Object identifies the Kubernetes object a change is in (empty for other YAML).
type Object struct {
	APIVersion, Kind, Namespace, Name string
}

// Change is one field rewritten.
type Change struct {
	OldValue, NewValue string
	// Setter is the marker's policy reference, e.g. "flux-system:app:tag".
	Setter string
}

// Result is what an update changed, by file (relative, slash-separated) and object.
type Result struct {
	FileChanges map[string]map[Object][]Change
}

// Changes lists every change, in file order.
func (r Result) Changes() []Change {
	var out []Change
	for _, f := range r.files() {
		for _, o := range sortedObjects(r.FileChanges[f]) {
			out = append(out, r.FileChanges[f][o]...)
		}
	}
	return out
}

// Objects merges the changes of every file by object.
func (r Result) Objects() map[Object][]Change {
	out := map[Object][]Change{}
	for _, f := range r.files() {
		for o, cs := range r.FileChanges[f] {
			out[o] = append(out[o], cs...)
		}
	}
	return out
}

func (r Result) files() []string {
	fs := make([]string, 0, len(r.FileChanges))
	for f := range r.FileChanges {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

func sortedObjects(m map[Object][]Change) []Object {
	out := make([]Object, 0, len(m))
	for o := range m {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// Problem is a marker or file that could not be applied; the rest of the update goes on.
type Problem struct {
	File string
	Line int
	Err  error
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", p.File, p.Line, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.File, p.Err)
}

// ErrUnknownPolicy means a marker names a policy that is not among those given.
var ErrUnknownPolicy = errors.New("marker names an unknown image policy")

// marker is a parsed marker comment.
type marker struct {
	policy string // "namespace:name"
	field  string // "", "tag", "name" or "digest"
	raw    string
}

// parseMarker reads a line comment; ok is false when it is not an image policy marker.
func parseMarker(comment string) (marker, bool, error) {
	c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#"))
	if !strings.Contains(c, Token) {
		return marker{}, false, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(c), &m); err != nil {
		return marker{}, true, fmt.Errorf("invalid marker %s: %w", c, err)
	}
	ref, ok := m["$imagepolicy"]
	if !ok {
		return marker{}, true, fmt.Errorf("invalid marker %s", c)
	}
	parts := strings.Split(ref, ":")
	mk := marker{raw: ref}
	switch len(parts) {
	case 2:
	case 3:
		mk.field = parts[2]
		if mk.field != "tag" && mk.field != "name" && mk.field != "digest" {
			return marker{}, true, fmt.Errorf("invalid marker %q: the suffix must be :tag, :name or :digest", ref)
		}
	default:
		return marker{}, true, fmt.Errorf("invalid marker %q: use \"<namespace>:<policy>[:tag|:name|:digest]\"", ref)
	}
	mk.policy = parts[0] + ":" + parts[1]
	return mk, true, nil
}

// value is what a marker's field becomes.
func (m marker) value(img Image) (string, error) {
	switch m.field {
	case "tag":
		return img.Tag, nil
	case "name":
		return img.Name, nil
	case "digest":
		if img.Digest == "" {
			return "", fmt.Errorf("marker %q wants a digest, but the policy reflects none (set spec.digestReflectionPolicy)", m.raw)
		}
		return img.Digest, nil
	}
	return img.Ref(), nil
}

// UpdateFile rewrites the marked scalars of one YAML stream with images (keyed
// "namespace:name"). It returns the new bytes, the changes by object, and the problems of
// markers it skipped; an error means the stream itself cannot be updated (it does not parse,
// is too large, or the edit would not parse back) and data is to be kept as it is.
func UpdateFile(data []byte, images map[string]Image) ([]byte, map[Object][]Change, []Problem, error) {
	if len(data) > MaxFileSize {
		return nil, nil, nil, fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	if !bytes.Contains(data, []byte(Token)) {
		return data, nil, nil, nil
	}
	if err := safeyaml.Check(data, safeyaml.DefaultLimits()); err != nil {
		return nil, nil, nil, err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	changes := map[Object][]Change{}
	var problems []Problem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("not valid YAML: %w", err)
		}
		obj := objectOf(&doc)
		walk(&doc, func(n *yaml.Node, comment string) {
			m, isMarker, err := parseMarker(comment)
			if !isMarker {
				return
			}
			if err == nil && n.Kind != yaml.ScalarNode {
				err = errors.New("marker is not on a scalar value")
			}
			if err != nil {
				problems = append(problems, Problem{Line: n.Line, Err: err})
				return
			}
			img, ok := images[m.policy]
			if !ok {
				problems = append(problems, Problem{Line: n.Line, Err: fmt.Errorf("%w '%s'", ErrUnknownPolicy, m.policy)})
				return
			}
			v, err := m.value(img)
			if err != nil {
				problems = append(problems, Problem{Line: n.Line, Err: err})
				return
			}
			if v == n.Value {
				return
			}
			if err := replaceScalar(lines, n, v); err != nil {
				problems = append(problems, Problem{Line: n.Line, Err: err})
				return
			}
			changes[obj] = append(changes[obj], Change{OldValue: n.Value, NewValue: v, Setter: m.raw})
		})
	}
	out := bytes.Join(lines, nil)
	if len(changes) == 0 {
		return data, nil, problems, nil
	}
	if err := parses(out); err != nil {
		return nil, nil, nil, fmt.Errorf("the updated file would not be valid YAML: %w", err)
	}
	return out, changes, problems, nil
}

// walk calls fn for every node with a line comment; a mapping value takes the comment of
// its key too (`key: value # comment` may put it on either).
func walk(n *yaml.Node, fn func(n *yaml.Node, comment string)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if c.LineComment != "" {
				fn(c, c.LineComment)
			}
			walk(c, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case v.LineComment != "" && v.Kind == yaml.ScalarNode:
				fn(v, v.LineComment)
			case k.LineComment != "" && v.Kind == yaml.ScalarNode:
				fn(v, k.LineComment)
			}
			walk(v, fn)
		}
	}
}

// objectOf reads a document's apiVersion, kind and metadata.
func objectOf(doc *yaml.Node) Object {
	var o Object
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return o
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	root := doc.Content[0]
	if v := get(root, "apiVersion"); v != nil {
		o.APIVersion = v.Value
	}
	if v := get(root, "kind"); v != nil {
		o.Kind = v.Value
	}
	if md := get(root, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		if v := get(md, "name"); v != nil {
			o.Name = v.Value
		}
		if v := get(md, "namespace"); v != nil {
			o.Namespace = v.Value
		}
	}
	return o
}

// replaceScalar rewrites the scalar n in lines (n.Line and n.Column are 1-based, the column
// in characters), keeping its style: plain, single- or double-quoted. A scalar spanning lines
// or a block scalar is refused.
func replaceScalar(lines [][]byte, n *yaml.Node, value string) error {
	if n.Line < 1 || n.Line > len(lines) {
		return errors.New("marker position out of range")
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return errors.New("marker is on a block scalar")
	}
	line := lines[n.Line-1]
	start := byteOffset(line, n.Column-1)
	if start < 0 {
		return errors.New("marker position out of range")
	}
	var token, repl string
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end := closingQuote(line[start+1:], '"')
		if end < 0 {
			return errors.New("quoted scalar spans lines")
		}
		token = string(line[start : start+end+2])
		b, _ := json.Marshal(value)
		repl = string(b)
	case n.Style&yaml.SingleQuotedStyle != 0:
		end := closingQuote(line[start+1:], '\'')
		if end < 0 {
			return errors.New("quoted scalar spans lines")
		}
		token = string(line[start : start+end+2])
		repl = "'" + strings.ReplaceAll(value, "'", "''") + "'"
	default:
		if !bytes.HasPrefix(line[start:], []byte(n.Value)) {
			return errors.New("plain scalar spans lines or is escaped")
		}
		token = n.Value
		repl = value
		if needsQuotes(value) {
			b, _ := json.Marshal(value)
			repl = string(b)
		}
	}
	lines[n.Line-1] = append(append(append([]byte{}, line[:start]...), repl...), line[start+len(token):]...)
	return nil
}

// closingQuote finds the closing quote in s (after the opening one), honouring ” in single
// quotes and backslash escapes in double quotes; -1 when the line has none.
func closingQuote(s []byte, q byte) int {
	for i := 0; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q:
			if q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			return i
		case s[i] == '\n':
			return -1
		}
	}
	return -1
}

// needsQuotes reports whether a plain scalar would not read back as the same string (a
// number, a boolean, a comment, an indicator).
func needsQuotes(v string) bool {
	var back map[string]any
	if err := yaml.Unmarshal([]byte("v: "+v), &back); err != nil {
		return true
	}
	s, ok := back["v"].(string)
	return !ok || s != v
}

func byteOffset(line []byte, col int) int {
	off := 0
	for i := 0; i < col; i++ {
		if off >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	return off
}

func parses(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// UpdateDir applies images to every .yaml and .yml file under root/path holding a marker,
// writing changed files in place. A file that cannot be updated is a Problem; nothing is
// written to it. Symlinks are not followed and path must stay inside root.
func UpdateDir(root, path string, images map[string]Image) (Result, []Problem, error) {
	res := Result{FileChanges: map[string]map[Object][]Change{}}
	base, err := filepath.Abs(root)
	if err != nil {
		return res, nil, err
	}
	if base, err = filepath.EvalSymlinks(base); err != nil {
		return res, nil, err
	}
	// Symlinks in the path are resolved before the check, so none leads outside the root.
	start, err := filepath.EvalSymlinks(filepath.Join(base, filepath.FromSlash(path)))
	if err != nil {
		return res, nil, fmt.Errorf("path '%s' is not a directory of the repository", path)
	}
	if rel, err := filepath.Rel(base, start); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return res, nil, fmt.Errorf("path '%s' is outside the repository", path)
	}
	if fi, err := os.Stat(start); err != nil || !fi.IsDir() {
		return res, nil, fmt.Errorf("path '%s' is not a directory of the repository", path)
	}
	var problems []Problem
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxFileSize {
			problems = append(problems, Problem{File: rel, Err: fmt.Errorf("file is larger than %d bytes", MaxFileSize)})
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out, changes, probs, uerr := UpdateFile(data, images)
		for _, pr := range probs {
			pr.File = rel
			problems = append(problems, pr)
		}
		if uerr != nil {
			// The file is reported and left alone; the other files go on.
			problems = append(problems, Problem{File: rel, Err: uerr})
			return nil //nolint:nilerr // reported as a Problem, the walk goes on
		}
		if len(changes) == 0 {
			return nil
		}
		if err := os.WriteFile(p, out, info.Mode().Perm()); err != nil {
			return err
		}
		res.FileChanges[rel] = changes
		return nil
	})
	return res, problems, err
}
