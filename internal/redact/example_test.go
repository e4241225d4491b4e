package redact_test

import (
	"fmt"

	"github.com/weirgitops/weir/internal/redact"
)

func ExampleText() {
	fmt.Println(redact.Text(`Get "https://ghp_token@github.com/org/repo/info/refs": EOF`))
	// Output: Get "https://***@github.com/org/repo/info/refs": EOF
}
