package safeyaml

import (
	"fmt"
	"math"
	"strings"
)

// Default bounds of DefaultLimits. Kubernetes manifests, CRD schemas
// included, stay far below them: a 5 MiB CRD file holds about half a million
// nodes, nested less than 100 levels deep.
const (
	// DefaultMaxBytes is the default bound on the size of a stream, 32 MiB.
	DefaultMaxBytes = 32 << 20
	// DefaultMaxNodes is the default bound on the nodes of a stream once
	// every alias is expanded.
	DefaultMaxNodes = 4_000_000
	// DefaultMaxDepth is the default bound on the nesting of a stream once
	// every alias is expanded.
	DefaultMaxDepth = 256
	// DefaultMaxDocuments is the default bound on the documents of one
	// stream: kustomize adds each object of a build in time linear in the
	// objects already added, so a hundred thousand documents hold every build
	// of the process for many minutes; ten thousand cost about a second.
	DefaultMaxDocuments = 10_000
)

// parserMaxDepth is the nesting at which the YAML parser itself stops with
// "exceeded max depth": Check can never let deeper input through.
const parserMaxDepth = 10000

// Limits bound what a YAML stream may cost to decode. A field that is zero
// or negative takes its value from DefaultLimits.
type Limits struct {
	// MaxBytes bounds the size of the stream in bytes.
	MaxBytes int
	// MaxNodes bounds the number of nodes (scalars, sequences and mappings,
	// keys included) of the whole stream once every alias is expanded.
	MaxNodes int
	// MaxDepth bounds the nesting of collections once every alias is
	// expanded: a top-level scalar is at depth 1, the values of a top-level
	// mapping at depth 2.
	MaxDepth int
	// MaxDocuments bounds the documents of the stream.
	MaxDocuments int
}

// DefaultLimits returns the limits for manifests read from a repository:
// 32 MiB, 4,000,000 expanded nodes, 256 levels and 10,000 documents.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxNodes: DefaultMaxNodes, MaxDepth: DefaultMaxDepth, MaxDocuments: DefaultMaxDocuments}
}

// withDefaults fills in zero fields and caps MaxNodes so that adding two
// counts below it cannot overflow.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	l.MaxNodes = min(l.MaxNodes, math.MaxInt/4)
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxDocuments <= 0 {
		l.MaxDocuments = d.MaxDocuments
	}
	return l
}

// Limit names one field of Limits.
type Limit int

// The limits a LimitError names.
const (
	// LimitBytes is Limits.MaxBytes.
	LimitBytes Limit = iota + 1
	// LimitNodes is Limits.MaxNodes.
	LimitNodes
	// LimitDepth is Limits.MaxDepth.
	LimitDepth
	// LimitDocuments is Limits.MaxDocuments.
	LimitDocuments
)

// String returns the name of the Limits field.
func (l Limit) String() string {
	switch l {
	case LimitBytes:
		return "MaxBytes"
	case LimitNodes:
		return "MaxNodes"
	case LimitDepth:
		return "MaxDepth"
	case LimitDocuments:
		return "MaxDocuments"
	default:
		return fmt.Sprintf("Limit(%d)", int(l))
	}
}

// LimitError reports a YAML stream that exceeds one of its Limits.
type LimitError struct {
	// Limit is the limit exceeded.
	Limit Limit
	// Max is the value of that limit.
	Max int
	// Document is the 1-based position, in the stream, of the document
	// where the limit was crossed, or 0 when it concerns the whole stream.
	Document int
	// Line is the 1-based line of the node where the limit was crossed, or
	// 0 when unknown.
	Line int
	// Alias is the name of the alias whose expansion crossed the limit, or
	// empty when a node of the stream itself crossed it.
	Alias string
	// Expanded reports that the expansion of aliases contributed to the
	// count that crossed the limit.
	Expanded bool
	// Cycle reports an alias that refers to a node containing it: its
	// expansion never ends.
	Cycle bool
}

// Error describes the limit, then where it was crossed.
func (e *LimitError) Error() string {
	var msg string
	switch {
	case e.Cycle:
		msg = "yaml alias refers to a node containing it and expands without end"
	case e.Limit == LimitBytes:
		msg = fmt.Sprintf("yaml larger than %d bytes", e.Max)
	case e.Limit == LimitNodes && e.Expanded:
		msg = fmt.Sprintf("yaml aliases expand to more than %d nodes", e.Max)
	case e.Limit == LimitNodes:
		msg = fmt.Sprintf("yaml has more than %d nodes", e.Max)
	case e.Limit == LimitDepth:
		msg = fmt.Sprintf("yaml nesting deeper than %d levels", e.Max)
	case e.Limit == LimitDocuments:
		msg = fmt.Sprintf("yaml stream of more than %d documents", e.Max)
	default:
		msg = fmt.Sprintf("yaml exceeds %s of %d", e.Limit, e.Max)
	}
	var at []string
	if e.Document > 0 {
		at = append(at, fmt.Sprintf("document %d", e.Document))
	}
	if e.Line > 0 {
		at = append(at, fmt.Sprintf("line %d", e.Line))
	}
	if e.Alias != "" {
		at = append(at, "alias *"+e.Alias)
	}
	if len(at) == 0 {
		return msg
	}
	return msg + " (" + strings.Join(at, ", ") + ")"
}
