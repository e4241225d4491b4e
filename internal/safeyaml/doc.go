// Package safeyaml bounds what decoding an untrusted YAML stream may cost
// before any decoder expands it.
//
// Check parses a stream into YAML nodes, which keep every alias as a pointer
// to its anchor, and computes what the stream becomes once every alias is
// expanded, the way kustomize, kyaml and every decoder into Go values expand
// it: the number of nodes and the nesting depth. It refuses a stream whose
// size, expanded node count or expanded depth exceeds its Limits, so that an
// alias bomb ("billion laughs") or a pathologically nested document fails in
// milliseconds with a *LimitError instead of costing minutes and gigabytes.
//
// Invariants:
//   - Check never expands an alias: the expansion of every anchored node is
//     computed once and reused, so the scan is linear in the size of the
//     stream and never allocates in proportion to the expansion. An alias
//     that refers to a node containing it expands without end and is refused.
//   - Check never recurses deeper than Limits.MaxDepth, and the parser stops
//     at its own depth limit of 10000, which Check reports as a *LimitError.
//   - Input that does not parse as YAML is not Check's to refuse: it returns
//     nil and leaves the syntax error to the decoder that reports it with
//     context. A stream that stops parsing part way is still scanned up to
//     the error, and again document by document, split on "---" lines as
//     kyaml and apimachinery split it, so that a syntax error cannot hide a
//     later document from the scan.
//   - Check is a pure function of its input and never panics.
package safeyaml
