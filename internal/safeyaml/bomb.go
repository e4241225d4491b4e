package safeyaml

import (
	"fmt"
	"strings"
)

// AliasBomb returns the classic "billion laughs" YAML: nine mapping keys a…i at the top
// level, each a sequence of nine aliases to the one before ("a" holds nine strings), 9^9
// strings once expanded in under 600 bytes, one key per line. Check refuses it under the
// default limits (at line 7, the first level past four million nodes); tests and examples
// use it as the input every YAML reader of weir must survive.
func AliasBomb() string {
	var b strings.Builder
	b.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, k := range strings.Split("bcdefghi", "") {
		refs := strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")
		fmt.Fprintf(&b, "%s: &%s [%s]\n", k, k, refs)
		prev = k
	}
	return b.String()
}
