package safeyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// errSyntax stops the scan of a stream that does not parse as YAML.
var errSyntax = errors.New("not yaml")

// Check returns a *LimitError when data, a YAML stream of any number of
// documents, exceeds lim (zero fields take DefaultLimits): when it is larger
// than MaxBytes, or when, once every alias is expanded, it would hold more
// than MaxNodes nodes or nest deeper than MaxDepth levels, or when it holds
// more than MaxDocuments documents. It returns nil for
// every other input, input that is not YAML included.
//
// Check costs time and memory linear in len(data), whatever the aliases
// expand to.
func Check(data []byte, lim Limits) error {
	_, err := scan(data, lim)
	return err
}

// stats are what a scan measured: the largest expanded node count and depth
// of its passes, and the documents of the whole stream.
type stats struct {
	documents int
	nodes     int
	depth     int
}

// scan measures data, first as one stream, then, when the stream did not
// parse to its end or holds "---" lines that do not start a document, as the
// chunks between "---" lines that kyaml and apimachinery decode one by one.
func scan(data []byte, lim Limits) (stats, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return stats{}, &LimitError{Limit: LimitBytes, Max: lim.MaxBytes}
	}
	whole := newScanner(lim)
	err := whole.stream(data, 0)
	st := stats{documents: whole.doc, nodes: whole.nodes, depth: whole.depth}
	if err != nil && !errors.Is(err, errSyntax) {
		return st, err
	}
	parts := split(data)
	if err == nil && whole.startsAll(parts) {
		return st, nil
	}
	chunks := newScanner(lim)
	for i, p := range parts {
		// Number documents as the chunks they start, as kyaml does.
		chunks.doc = max(chunks.doc, i)
		err := chunks.stream(p.data, p.line)
		st.nodes, st.depth = max(st.nodes, chunks.nodes), max(st.depth, chunks.depth)
		if err != nil && !errors.Is(err, errSyntax) {
			return st, err
		}
	}
	return st, nil
}

// part is a chunk of a stream and the number of lines of the stream before
// it.
type part struct {
	data []byte
	line int
}

// split cuts data at every line that starts with "---" followed by nothing
// but blanks or a comment, as kyaml and apimachinery cut a stream into
// documents (kyaml refuses other "---" lines), and drops that line.
func split(data []byte) []part {
	var parts []part
	start, startLine := 0, 0
	for i, line := 0, 0; i < len(data); line++ {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += i
		}
		if i > 0 && separator(data[i:end]) {
			parts = append(parts, part{data: data[start:i], line: startLine})
			start, startLine = min(end+1, len(data)), line+1
		}
		i = end + 1
	}
	return append(parts, part{data: data[start:], line: startLine})
}

// separator reports whether line is a document separator for kyaml.
func separator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// extent is the expansion of an anchored node.
type extent struct {
	nodes  int
	height int
}

// scanner measures the expansion of the documents of one or more streams.
type scanner struct {
	lim Limits
	// doc counts the documents scanned; line is the number of lines of the
	// input before the current stream.
	doc, line int
	// nodes counts the expanded nodes so far; aliased is set once an alias
	// expanded to any; depth is the deepest expanded level so far.
	nodes   int
	aliased bool
	depth   int
	// starts holds the lines where a "---" starts a document of the stream.
	starts map[int]bool
	// memo holds the expansion of every anchored node scanned; busy holds the
	// anchored nodes being scanned, to refuse aliases to their ancestors.
	memo map[*yaml.Node]extent
	busy map[*yaml.Node]bool
}

func newScanner(lim Limits) *scanner {
	return &scanner{lim: lim, starts: map[int]bool{}}
}

// stream scans every document of data, a stream that starts after line
// lines of the input. It returns a *LimitError, or errSyntax when the parser
// stops before the end.
func (s *scanner) stream(data []byte, line int) error {
	s.line = line
	s.memo = map[*yaml.Node]extent{}
	s.busy = map[*yaml.Node]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.parseError(err)
		}
		s.doc++
		if s.doc > s.lim.MaxDocuments {
			return &LimitError{Limit: LimitDocuments, Max: s.lim.MaxDocuments, Document: s.doc}
		}
		// A document starts at a "---" line unless its content starts
		// there: then "---" is text of its first scalar.
		if len(doc.Content) == 0 || doc.Content[0].Line != doc.Line || doc.Content[0].Column > 1 {
			s.starts[s.line+doc.Line] = true
		}
		for _, n := range doc.Content {
			if _, err := s.walk(n, 1); err != nil {
				return err
			}
		}
	}
}

// decode parses the next document into n, turning a parser panic into
// errSyntax: input the parser cannot handle is not YAML for the decoders
// either.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errSyntax
		}
	}()
	return dec.Decode(n)
}

// parseError maps the parser's depth limit to a *LimitError and every other
// parser error to errSyntax.
func (s *scanner) parseError(err error) error {
	msg := err.Error()
	if !strings.HasSuffix(msg, fmt.Sprintf("exceeded max depth of %d", parserMaxDepth)) {
		return errSyntax
	}
	// The parser names the line of the error unless it is the first.
	line := 1
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if n, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, ':'), 0)]); err == nil && n > 0 {
			line = n
		}
	}
	return &LimitError{Limit: LimitDepth, Max: min(s.lim.MaxDepth, parserMaxDepth), Document: s.doc + 1, Line: s.line + line}
}

// startsAll reports whether the separator before every chunk of the stream
// but the first starts a document of it, so that scanning the chunks one by
// one would find nothing more.
func (s *scanner) startsAll(parts []part) bool {
	for _, p := range parts[1:] {
		// The separator is the last line before the chunk.
		if !s.starts[p.line] {
			return false
		}
	}
	return true
}

// walk scans n, at depth (1 for the root of a document), and returns the
// height of its expansion: 1 for a scalar, one more than its tallest child
// for a collection. It never recurses deeper than MaxDepth.
func (s *scanner) walk(n *yaml.Node, depth int) (int, error) {
	if n == nil {
		return 0, nil
	}
	if depth > s.lim.MaxDepth {
		return 0, s.tooDeep(n, "")
	}
	if n.Kind == yaml.AliasNode {
		return s.alias(n, depth)
	}
	start := s.nodes
	if err := s.add(1, n, ""); err != nil {
		return 0, err
	}
	if n.Anchor != "" {
		s.busy[n] = true
	}
	height := 0
	for _, c := range n.Content {
		h, err := s.walk(c, depth+1)
		if err != nil {
			return 0, err
		}
		height = max(height, h)
	}
	height++
	s.depth = max(s.depth, depth+height-1)
	if n.Anchor != "" {
		delete(s.busy, n)
		s.memo[n] = extent{nodes: s.nodes - start, height: height}
	}
	return height, nil
}

// alias accounts for the expansion of the alias n at depth, from the memo of
// its anchor.
func (s *scanner) alias(n *yaml.Node, depth int) (int, error) {
	target := n.Alias
	if target == nil {
		return 0, nil
	}
	if s.busy[target] {
		return 0, &LimitError{Limit: LimitNodes, Max: s.lim.MaxNodes, Document: s.doc, Line: s.lineOf(n),
			Alias: n.Value, Expanded: true, Cycle: true}
	}
	e, ok := s.memo[target]
	if !ok {
		// The parser only lets an alias follow its anchor, which is scanned
		// by then; should it not be, scan the anchor here, once.
		s.aliased = true
		return s.walk(target, depth)
	}
	if depth+e.height-1 > s.lim.MaxDepth {
		return 0, s.tooDeep(n, n.Value)
	}
	if err := s.add(e.nodes, n, n.Value); err != nil {
		return 0, err
	}
	s.depth = max(s.depth, depth+e.height-1)
	return e.height, nil
}

// add counts k more expanded nodes at n, the expansion of the alias named
// alias when not empty.
func (s *scanner) add(k int, n *yaml.Node, alias string) error {
	s.nodes += k
	if alias != "" && k > 0 {
		s.aliased = true
	}
	if s.nodes <= s.lim.MaxNodes {
		return nil
	}
	return &LimitError{Limit: LimitNodes, Max: s.lim.MaxNodes, Document: s.doc, Line: s.lineOf(n),
		Alias: alias, Expanded: s.aliased}
}

// tooDeep reports n (the alias named alias when not empty) as nested deeper
// than MaxDepth.
func (s *scanner) tooDeep(n *yaml.Node, alias string) error {
	return &LimitError{Limit: LimitDepth, Max: s.lim.MaxDepth, Document: s.doc, Line: s.lineOf(n),
		Alias: alias, Expanded: alias != ""}
}

// lineOf returns the line of n in the input, 0 when unknown.
func (s *scanner) lineOf(n *yaml.Node) int {
	if n.Line <= 0 {
		return 0
	}
	return s.line + n.Line
}
