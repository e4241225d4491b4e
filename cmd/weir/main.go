// Command weir is the weir GitOps toolkit: `weir controller` runs every controller in one
// process, and the other verbs are the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/weirgitops/weir/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx)
	stop()
	os.Exit(code)
}
