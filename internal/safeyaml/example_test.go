package safeyaml_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/weirgitops/weir/internal/safeyaml"
)

func ExampleCheck() {
	settings := `defaults: &defaults {retries: 3, timeout: 10s}
prod:
  <<: *defaults
  timeout: 30s
`
	fmt.Println(safeyaml.Check([]byte(settings), safeyaml.DefaultLimits()))

	// Nine levels of nine aliases: 9^9 strings once expanded.
	bomb := `a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]` + "\n"
	for c := 'b'; c <= 'i'; c++ {
		alias := fmt.Sprintf("*%c", c-1)
		bomb += fmt.Sprintf("%c: &%c [%s]\n", c, c, strings.Repeat(alias+", ", 8)+alias)
	}
	err := safeyaml.Check([]byte(bomb), safeyaml.DefaultLimits())
	var limit *safeyaml.LimitError
	if errors.As(err, &limit) {
		fmt.Printf("%s: %v\n", limit.Limit, err)
	}

	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	fmt.Println(safeyaml.Check([]byte(deep), safeyaml.DefaultLimits()))

	// Syntax errors are left to the decoder.
	fmt.Println(safeyaml.Check([]byte("a: [b"), safeyaml.DefaultLimits()))
	// Output:
	// <nil>
	// MaxNodes: yaml aliases expand to more than 4000000 nodes (document 1, line 7, alias *f)
	// yaml nesting deeper than 256 levels (document 1, line 1)
	// <nil>
}
