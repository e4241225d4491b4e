package main

import (
	_ "github.com/spf13/cobra"
	_ "github.com/weirgitops/weir/internal/manager"
	_ "sigs.k8s.io/controller-runtime"
)

func main() {}
