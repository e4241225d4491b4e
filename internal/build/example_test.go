package build_test

import (
	"fmt"

	"github.com/weirgitops/weir/internal/build"
)

func ExampleExpand() {
	vars := map[string]string{"cluster_env": "prod"}
	out, _ := build.Expand("env: ${cluster_env}, region: ${region:=eu-1}, raw: $HOME, escaped: $${cluster_env}", vars, true)
	fmt.Println(out)
	_, err := build.Expand("${missing}", vars, true)
	fmt.Println(err)
	// Output:
	// env: prod, region: eu-1, raw: $HOME, escaped: ${cluster_env}
	// variable not set: missing
}
