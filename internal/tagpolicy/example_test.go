package tagpolicy_test

import (
	"fmt"

	"github.com/weirgitops/weir/internal/tagpolicy"
)

func ExampleCompile() {
	order := "asc"
	s, err := tagpolicy.Compile(tagpolicy.Policy{
		Numerical: &order,
		Pattern:   `^main-[a-f0-9]+-(?P<ts>\d+)$`,
		Extract:   "$ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	latest, err := s.Latest([]string{"main-a1b2c3-1700000100", "main-d4e5f6-1700000900", "v1.0.0", "main-0a0b0c-1700000500"})
	fmt.Println(latest, err)
	// Output: main-d4e5f6-1700000900 <nil>
}
