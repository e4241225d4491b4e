package safeyaml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// billionLaughs is the classic alias bomb, 9^9 strings once expanded.
var billionLaughs = AliasBomb()

// flowLaughs is billionLaughs on one line, without ": ".
var flowLaughs = func() string {
	parts := []string{"&a [" + strings.Repeat("lol,", 8) + "lol]"}
	for c := 'b'; c <= 'i'; c++ {
		parts = append(parts, fmt.Sprintf("&%c [%s*%c]", c, strings.Repeat(fmt.Sprintf("*%c,", c-1), 8), c-1))
	}
	return "[" + strings.Join(parts, ", ") + "]\n"
}()

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {app: app}
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: podinfo:1.0.0
        args: ["--port", "9898"]
`

const mergeKeys = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  defaults: &defaults
    retries: "3"
    timeout: 10s
  prod:
    <<: *defaults
    timeout: 30s
`

// fanOut is one anchor of n scalars followed by k aliases to it: n*k nodes
// from about 2n+3k bytes.
func fanOut(n, k int) string {
	return "big: &big [" + strings.Repeat("x,", n-1) + "x]\n" +
		"copies: [" + strings.Repeat("*big,", k-1) + "*big]\n"
}

// nested is n flow sequences, one in the other.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// nestedBlock is n block mappings, one in the other.
func nestedBlock(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", i))
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	small := Limits{MaxBytes: 1 << 20, MaxNodes: 1000, MaxDepth: 16}
	tests := []struct {
		name string
		in   string
		lim  Limits
		want *LimitError // nil: Check passes
	}{
		{name: "empty", in: ""},
		{name: "comments only", in: "# nothing\n---\n# here\n"},
		{name: "plain manifest", in: deployment},
		{name: "multi-document stream", in: deployment + "---\n" + mergeKeys + "---\n" + deployment},
		{name: "stream with document end markers", in: "a: 1\n...\n---\nb: 2\n...\n"},
		{name: "legitimate merge key", in: mergeKeys},
		{name: "anchors reused a few times", in: "x: &x {a: 1, b: [1, 2]}\ny: [*x, *x, *x]\n"},
		// The root, "big", its 10 nodes, "copies", its sequence, 10 times 10
		// expanded nodes, "z" and 1.
		{name: "nodes at the limit", in: fanOut(9, 10) + "z: 1\n", lim: Limits{MaxNodes: 1 + 1 + 10 + 1 + 1 + 10*10 + 1 + 1}},
		{
			name: "one node over the limit",
			in:   fanOut(9, 10) + "z: 1\n",
			lim:  Limits{MaxNodes: 1 + 1 + 10 + 1 + 1 + 10*10 + 1},
			want: &LimitError{Limit: LimitNodes, Max: 115, Document: 1, Line: 3, Expanded: true},
		},
		{name: "depth at the limit", in: nested(16), lim: small},
		{name: "documents at the limit", in: strings.Repeat("---\na: 1\n", 3), lim: Limits{MaxDocuments: 3}},
		{
			name: "one document over the limit",
			in:   strings.Repeat("---\na: 1\n", 4),
			lim:  Limits{MaxDocuments: 3},
			want: &LimitError{Limit: LimitDocuments, Max: 3, Document: 4},
		},
		{
			name: "a hundred thousand documents",
			in:   strings.Repeat("---\nkind: ConfigMap\n", 100_000),
			want: &LimitError{Limit: LimitDocuments, Max: DefaultMaxDocuments, Document: DefaultMaxDocuments + 1},
		},
		{
			name: "billion laughs",
			in:   billionLaughs,
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 1, Line: 7, Alias: "f", Expanded: true},
		},
		{
			name: "billion laughs under small limits",
			in:   billionLaughs,
			lim:  small,
			want: &LimitError{Limit: LimitNodes, Max: 1000, Document: 1, Line: 4, Alias: "c", Expanded: true},
		},
		{
			name: "many aliases to one large anchor",
			in:   fanOut(20000, 250),
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 1, Line: 2, Alias: "big", Expanded: true},
		},
		{
			name: "aliases across documents",
			in:   "&big [" + strings.Repeat("x,", 99) + "x]\n" + strings.Repeat("---\n[*big, *big, *big, *big]\n", 3),
			lim:  small,
			want: &LimitError{Limit: LimitNodes, Max: 1000, Document: 4, Line: 7, Alias: "big", Expanded: true},
		},
		{
			name: "plain stream over the node limit",
			in:   "[" + strings.Repeat("x,", 1000) + "x]\n",
			lim:  small,
			want: &LimitError{Limit: LimitNodes, Max: 1000, Document: 1, Line: 1},
		},
		{
			name: "alias to a node containing it",
			in:   "a: &a [1, [2, *a]]\n",
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 1, Line: 1, Alias: "a", Expanded: true, Cycle: true},
		},
		{
			name: "deep flow nesting",
			in:   "a: " + nested(300) + "\n",
			want: &LimitError{Limit: LimitDepth, Max: DefaultMaxDepth, Document: 1, Line: 1},
		},
		{
			name: "deep block nesting",
			in:   nestedBlock(20),
			lim:  small,
			want: &LimitError{Limit: LimitDepth, Max: 16, Document: 1, Line: 16},
		},
		{
			name: "deep through aliases",
			in:   "a: &a " + nested(10) + "\nb: [[[[[[[[*a]]]]]]]]\n",
			lim:  small,
			want: &LimitError{Limit: LimitDepth, Max: 16, Document: 1, Line: 2, Alias: "a", Expanded: true},
		},
		{
			name: "deeper than the parser allows",
			in:   strings.Repeat("[", 1<<20),
			want: &LimitError{Limit: LimitDepth, Max: DefaultMaxDepth, Document: 1, Line: 1},
		},
		{
			name: "deeper than the parser allows, in a later document",
			in:   "a: 1\n---\nb:\n  c: " + strings.Repeat("[", 20000),
			want: &LimitError{Limit: LimitDepth, Max: DefaultMaxDepth, Document: 2, Line: 4},
		},
		{
			name: "block deeper than the parser allows",
			in:   strings.Repeat("- ", 20000) + "x\n",
			lim:  Limits{MaxDepth: 1 << 20},
			want: &LimitError{Limit: LimitDepth, Max: 10000, Document: 1, Line: 1},
		},
		{
			name: "larger than the size limit",
			in:   strings.Repeat(deployment+"---\n", 10),
			lim:  Limits{MaxBytes: 1024},
			want: &LimitError{Limit: LimitBytes, Max: 1024},
		},
		{name: "invalid yaml", in: "a: [b\nc: }\n"},
		{name: "unknown anchor", in: "a: *nowhere\n"},
		{name: "tabs and binary", in: "\t\x00\xff\xfe: [\n"},
		{
			name: "bomb after a document that does not parse",
			in:   "a: [\n---\n" + billionLaughs,
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 2, Line: 9, Alias: "f", Expanded: true},
		},
		{
			// "---#" does not start a YAML document, so the stream is one
			// plain scalar, but kyaml splits there and decodes the bomb.
			name: "bomb after a separator that does not start a document",
			in:   "lol\n---#\n" + flowLaughs,
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 2, Line: 3, Alias: "f", Expanded: true},
		},
		{
			// The stream is one plain scalar that starts with "---#".
			name: "bomb after a separator that starts a scalar",
			in:   "\n---#\n" + flowLaughs,
			want: &LimitError{Limit: LimitNodes, Max: DefaultMaxNodes, Document: 2, Line: 3, Alias: "f", Expanded: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in), tt.lim)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Check() = %v, want %v", err, tt.want)
			}
			if *le != *tt.want {
				t.Fatalf("Check() = %#v\nwant %#v", *le, *tt.want)
			}
		})
	}
}

func TestLimitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  LimitError
		want string
	}{
		{
			name: "expanded aliases",
			err:  LimitError{Limit: LimitNodes, Max: 4000000, Document: 1, Line: 7, Alias: "f", Expanded: true},
			want: "yaml aliases expand to more than 4000000 nodes (document 1, line 7, alias *f)",
		},
		{
			name: "plain nodes",
			err:  LimitError{Limit: LimitNodes, Max: 10, Document: 2, Line: 3},
			want: "yaml has more than 10 nodes (document 2, line 3)",
		},
		{
			name: "cycle",
			err:  LimitError{Limit: LimitNodes, Max: 10, Document: 1, Line: 1, Alias: "a", Expanded: true, Cycle: true},
			want: "yaml alias refers to a node containing it and expands without end (document 1, line 1, alias *a)",
		},
		{name: "depth", err: LimitError{Limit: LimitDepth, Max: 256, Document: 1}, want: "yaml nesting deeper than 256 levels (document 1)"},
		{name: "size", err: LimitError{Limit: LimitBytes, Max: 1024}, want: "yaml larger than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []part
	}{
		{name: "empty", in: "", want: []part{{data: []byte{}, line: 0}}},
		{name: "leading separator stays", in: "---\na: 1\n", want: []part{{data: []byte("---\na: 1\n")}}},
		{
			name: "separators with blanks and comments",
			in:   "a: 1\n---\nb: 2\n---  # c\r\nc: 3\n----\n--- x\n---#\n",
			want: []part{
				{data: []byte("a: 1\n")},
				{data: []byte("b: 2\n"), line: 2},
				{data: []byte("c: 3\n----\n--- x\n"), line: 4},
				{data: []byte{}, line: 8},
			},
		},
		{name: "separator without newline", in: "a\n---", want: []part{{data: []byte("a\n")}, {data: []byte{}, line: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("split() = %d parts, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if string(got[i].data) != string(tt.want[i].data) || got[i].line != tt.want[i].line {
					t.Errorf("part %d = %q at %d, want %q at %d", i, got[i].data, got[i].line, tt.want[i].data, tt.want[i].line)
				}
			}
		})
	}
}

// fluxCRDs returns the CRDs of config/crd/bases as one stream, repeated
// until it is at least size bytes long.
func fluxCRDs(tb testing.TB, size int) []byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no CRDs: %v", err)
	}
	var out []byte
	for len(out) < size {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(append(out, "---\n"...), data...)
		}
	}
	return out
}

// bigSchema returns one CRD-like document of at least size bytes: an
// openAPIV3Schema of nested objects with described properties.
func bigSchema(size int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: bigs.example.com\n" +
		"spec:\n  group: example.com\n  names: {kind: Big, plural: bigs}\n  scope: Namespaced\n  versions:\n  - name: v1\n" +
		"    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n")
	var object func(indent string, depth int)
	object = func(indent string, depth int) {
		fmt.Fprintf(&b, "%stype: object\n%sproperties:\n", indent, indent)
		for i := 0; i < 8 && b.Len() < size; i++ {
			fmt.Fprintf(&b, "%s  field%d:\n%s    description: Field%d configures one aspect of the object at depth %d; it is long, as generated descriptions are.\n",
				indent, i, indent, i, depth)
			if depth < 12 && i%2 == 0 {
				object(indent+"    ", depth+1)
				continue
			}
			fmt.Fprintf(&b, "%s    type: string\n%s    enum: [a, b, c]\n", indent, indent)
		}
	}
	for b.Len() < size {
		object("        ", 1)
	}
	return []byte(b.String())
}

func TestCheckLargeOrdinaryFiles(t *testing.T) {
	for name, data := range map[string][]byte{
		"flux crds, 5 MiB": fluxCRDs(t, 5<<20),
		"one 5 MiB crd":    bigSchema(5 << 20),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := scan(data, DefaultLimits())
			if err != nil {
				t.Fatalf("Check() = %v", err)
			}
			t.Logf("%d bytes, %d documents, %d nodes, %d levels", len(data), st.documents, st.nodes, st.depth)
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	for name, data := range map[string][]byte{
		"billion laughs":   []byte(billionLaughs),
		"fan out":          []byte(fanOut(20000, 250)),
		"deep 1 MiB":       []byte(strings.Repeat("[", 1<<20)),
		"flux crds 5 MiB":  fluxCRDs(b, 5<<20),
		"one 5 MiB crd":    bigSchema(5 << 20),
		"plain deployment": []byte(deployment),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_ = Check(data, DefaultLimits())
			}
		})
	}
}
