package safeyaml

import (
	"bytes"
	"errors"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// FuzzCheck checks that Check never panics, returns nil or a *LimitError,
// and that what it lets through decodes within what it measured: decoding
// the stream with yaml.v3 into Go values, whether as one stream or as the
// chunks kyaml splits it into, yields no more nodes and no deeper nesting
// than the scan counted, so the work of decoding is bounded by the limits.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"", deployment, mergeKeys, billionLaughs, flowLaughs, fanOut(100, 100),
		"a: &a [1, [2, *a]]\n", "a: &a {b: *a}\n", nested(80), nestedBlock(80),
		"a: [\n---\n" + billionLaughs, "lol\n---#\n" + flowLaughs,
		"&big [x, x, x, x]\n---\n[*big, *big]\n", "a: 1\n...\n---\nb: *x\n",
		"x: &x {a: 1}\ny: {<<: [*x, *x], b: 2}\n", "? &k [a, b]\n: *k\n", "--- |\n  text\n---\n- &a a\n- *a\n",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 64 << 10, MaxNodes: 20000, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := scan(data, lim)
		if err != nil {
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Check() = %v (%T), want nil or *LimitError", err, err)
			}
			return
		}
		if st.nodes > lim.MaxNodes || st.depth > lim.MaxDepth {
			t.Fatalf("passed with %d nodes, %d levels, over %+v", st.nodes, st.depth, lim)
		}
		// As one stream, document after document until an error.
		var total, deepest int
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var v any
			if err := dec.Decode(&v); err != nil {
				break
			}
			n, d := measure(v, 1, st.nodes-total)
			total, deepest = total+n, max(deepest, d)
			if total > st.nodes || deepest > st.depth {
				t.Fatalf("stream decodes to more than %d nodes or %d levels, %d nodes and %d levels", st.nodes, st.depth, total, deepest)
			}
		}
		// As kyaml does, the first document of every chunk.
		total, deepest = 0, 0
		for _, p := range split(data) {
			var v any
			if err := yaml.NewDecoder(bytes.NewReader(p.data)).Decode(&v); err != nil {
				continue
			}
			n, d := measure(v, 1, st.nodes-total)
			total, deepest = total+n, max(deepest, d)
			if total > st.nodes || deepest > st.depth {
				t.Fatalf("chunks decode to more than %d nodes or %d levels, %d nodes and %d levels", st.nodes, st.depth, total, deepest)
			}
		}
	})
}

// measure returns the nodes (map keys included) and the depth of v, a
// decoded value at depth, counting no more than budget+1 nodes.
func measure(v any, depth, budget int) (nodes, deepest int) {
	nodes, deepest = 1, depth
	add := func(c any) {
		if nodes > budget {
			return
		}
		n, d := measure(c, depth+1, budget-nodes)
		nodes, deepest = nodes+n, max(deepest, d)
	}
	switch v := v.(type) {
	case []any:
		for _, c := range v {
			add(c)
		}
	case map[string]any:
		for k, c := range v {
			add(k)
			add(c)
		}
	case map[any]any:
		for k, c := range v {
			add(k)
			add(c)
		}
	}
	return nodes, deepest
}
