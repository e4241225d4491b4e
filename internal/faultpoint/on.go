//go:build faults

package faultpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// selected is the point $WEIR_FAULTPOINT names, parsed once.
var selected = parse(os.Getenv("WEIR_FAULTPOINT"))

type selection struct {
	point string
	nth   int64
	panic bool
	hits  atomic.Int64
}

func parse(v string) *selection {
	if v == "" {
		return nil
	}
	s := &selection{nth: 1}
	if p, ok := strings.CutSuffix(v, ":panic"); ok {
		v, s.panic = p, true
	}
	if p, n, ok := strings.Cut(v, "@"); ok {
		v = p
		if k, err := strconv.ParseInt(n, 10, 64); err == nil && k > 0 {
			s.nth = k
		}
	}
	s.point = v
	return s
}

// Hit kills the process with SIGKILL (or panics) when name is the selected point and this is
// the selected hit.
func Hit(name string) {
	s := selected
	if s == nil || s.point != name {
		return
	}
	n := s.hits.Add(1)
	if n != s.nth {
		return
	}
	if s.panic {
		fmt.Fprintf(os.Stderr, "faultpoint %s: panicking (hit %d)\n", name, n)
		panic("faultpoint " + name)
	}
	fmt.Fprintf(os.Stderr, "faultpoint %s: killing the process (hit %d)\n", name, n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught: wait for it
}
